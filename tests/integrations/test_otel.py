"""OpenTelemetry export: span tree, times, GenAI attributes, errors, content opt-in."""

from __future__ import annotations

from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import tracing
from onetwo.integrations import otel

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")


def spans_of(trace: tracing.Trace, **options: Any) -> list[Any]:
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    otel.export_trace(trace, tracer=provider.get_tracer("test"), **options)
    return list(exporter.get_finished_spans())


@ot.make_executable
@tracing.trace
async def solve(question: str) -> str:
    return await llm.generate_text(question, temperature=0.2, max_tokens=5, stop=["\n"])


def test_the_trace_becomes_a_span_tree_with_its_own_times() -> None:
    FakeBackend(default_reply=" four", model="calc").register()
    _, trace = ot.run(solve("two plus two"), enable_tracing=True)
    spans = {s.name: s for s in spans_of(trace)}
    assert set(spans) == {"solve", "text_completion calc"}
    root, call = spans["solve"], spans["text_completion calc"]
    assert call.parent is not None and call.parent.span_id == root.context.span_id
    assert call.context.trace_id == root.context.trace_id
    assert root.start_time == int(trace.start * 1e9)
    assert call.end_time == int(trace.children[0].end * 1e9)


def test_model_calls_carry_gen_ai_attributes() -> None:
    FakeBackend(default_reply=" four", model="calc").register()
    _, trace = ot.run(solve("two plus two"), enable_tracing=True)
    call = next(s for s in spans_of(trace) if s.name.startswith("text_completion"))
    attributes = dict(call.attributes)
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.provider.name"] == "fake"
    assert attributes["gen_ai.request.model"] == "calc"
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.request.max_tokens"] == 5
    assert attributes["gen_ai.request.stop_sequences"] == ("\n",)
    assert attributes["gen_ai.usage.input_tokens"] == 3
    assert attributes["gen_ai.usage.output_tokens"] == 1
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "onetwo.inputs" not in attributes  # content is opt-in
    assert call.kind.name == "CLIENT"


def test_errors_cache_flags_and_content_opt_in() -> None:
    node = tracing.Trace("llm.generate_text", "builtin", {"prompt": "<p>"}, start=1.0, end=2.0)
    node.details.update(backend="fake", model="m", cache_hit=True)
    node.error = RuntimeError("boom")
    (span,) = spans_of(node, include_content=True)
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["onetwo.cache_hit"] is True
    assert span.attributes["onetwo.inputs"] == '{"prompt": "<p>"}'
    assert span.events[0].name == "exception"


def test_a_single_stop_string_is_one_stop_sequence() -> None:
    node = tracing.Trace("llm.generate_text", "builtin", {"prompt": "p", "stop": "END"})
    node.details.update(backend="fake", model="m")
    attributes = otel.span_attributes(node)
    assert attributes["gen_ai.request.stop_sequences"] == ["END"]
