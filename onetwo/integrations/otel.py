"""Export traces as OpenTelemetry spans, with the GenAI semantic conventions.

Each node of a :class:`~onetwo.core.tracing.Trace` becomes a span with its recorded times,
under its parent's. Model calls (nodes with a ``backend``) are ``CLIENT`` spans named
``"{operation} {model}"`` with the ``gen_ai.*`` attributes (operation, provider, request
model and parameters, token usage, finish reason); failed nodes get an ``ERROR`` status
and the exception as an event.

Example:
    >>> from onetwo.integrations import otel
    >>> result, trace = ot.run(strategy(q), enable_tracing=True)   # doctest: +SKIP
    >>> otel.export_trace(trace)   # to the globally configured TracerProvider  # doctest: +SKIP

Needs ``opentelemetry-api`` (``pip install "onetwo[otel]"``), and an SDK and exporter set
up by the application. Prompts and replies (maybe personal data) are exported only with
``include_content=True``.
"""

from __future__ import annotations

import json
from typing import Any

from onetwo.core.tracing import Trace

__all__ = ["export_trace", "span_attributes"]

# onetwo builtin → gen_ai.operation.name (others use the builtin's own short name).
_OPERATIONS = {
    "llm.generate_text": "text_completion",
    "llm.generate_texts": "text_completion",
    "llm.chat": "chat",
    "llm.instruct": "chat",
    "llm.embed": "embeddings",
}
# builtin argument → gen_ai.request.* attribute.
_REQUEST = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "stop": "gen_ai.request.stop_sequences",
}
_CONTENT_LIMIT = 4000


def _otel() -> Any:
    try:
        from opentelemetry import trace
    except ImportError as e:
        raise ImportError(
            f"onetwo.integrations.otel needs the OpenTelemetry API ({e}). Install it with: "
            'pip install "onetwo[otel]"'
        ) from e
    return trace


def span_attributes(node: Trace, *, include_content: bool = False) -> dict[str, Any]:
    """The span attributes of one trace node (``gen_ai.*`` for model calls)."""
    attributes: dict[str, Any] = {"onetwo.kind": node.kind}
    details = node.details
    if "backend" in details:
        attributes.update(_model_call_attributes(node))
    if details.get("cache_hit") is not None:
        attributes["onetwo.cache_hit"] = bool(details["cache_hit"])
    if details.get("sampling_key"):
        attributes["onetwo.sampling_key"] = str(details["sampling_key"])
    if node.error is not None:
        attributes["error.type"] = type(node.error).__qualname__
    if include_content:
        attributes["onetwo.inputs"] = _content(node.inputs)
        attributes["onetwo.outputs"] = _content(node.outputs)
    return attributes


def _model_call_attributes(node: Trace) -> dict[str, Any]:
    details = node.details
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": _operation(node.name),
        "gen_ai.provider.name": str(details["backend"]),
        "gen_ai.system": str(details["backend"]),  # the older name of the same attribute
    }
    if details.get("model"):
        attributes["gen_ai.request.model"] = str(details["model"])
    for argument, attribute in _REQUEST.items():
        value = node.inputs.get(argument)
        if value is not None:
            attributes[attribute] = _stop_sequences(value) if argument == "stop" else value
    if details.get("prompt_tokens") is not None:
        attributes["gen_ai.usage.input_tokens"] = int(details["prompt_tokens"])
    if details.get("completion_tokens") is not None:
        attributes["gen_ai.usage.output_tokens"] = int(details["completion_tokens"])
    if details.get("finish_reason"):
        attributes["gen_ai.response.finish_reasons"] = [str(details["finish_reason"])]
    return attributes


def _stop_sequences(stop: Any) -> list[str]:
    # `stop="\n"` is one sequence, not one per character.
    return [stop] if isinstance(stop, str) else [str(s) for s in stop]


def _operation(name: str) -> str:
    return _OPERATIONS.get(name, name.rsplit(".", 1)[-1])


def _span_name(node: Trace) -> str:
    if "backend" in node.details:
        model = node.details.get("model")
        return f"{_operation(node.name)} {model}" if model else _operation(node.name)
    return node.name


def _content(value: Any) -> str:
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= _CONTENT_LIMIT else text[:_CONTENT_LIMIT] + "…"


def export_trace(trace: Trace, *, tracer: Any = None, include_content: bool = False) -> None:
    """Emit ``trace`` (and all its nodes) as finished OpenTelemetry spans.

    Args:
        trace: what ``ot.run(..., enable_tracing=True)`` returned.
        tracer: an ``opentelemetry.trace.Tracer``; by default one from the global
            ``TracerProvider``. The spans go under the span current where this is called.
        include_content: also export inputs and outputs (as JSON text, cut at 4,000
            characters) in ``onetwo.inputs`` / ``onetwo.outputs``.
    """
    api = _otel()
    _emit(api, tracer or api.get_tracer("onetwo"), trace, None, include_content)


def _emit(api: Any, tracer: Any, node: Trace, context: Any, include_content: bool) -> None:
    start = int(node.start * 1e9)
    end = int((node.end if node.end is not None else node.start) * 1e9)
    kind = api.SpanKind.CLIENT if "backend" in node.details else api.SpanKind.INTERNAL
    span = tracer.start_span(
        _span_name(node),
        context=context,
        kind=kind,
        attributes=span_attributes(node, include_content=include_content),
        start_time=start,
    )
    if node.error is not None:
        span.record_exception(node.error, timestamp=end)
        span.set_status(api.Status(api.StatusCode.ERROR, f"{node.error}"[:200]))
    child_context = api.set_span_in_context(span)
    for child in node.children:
        _emit(api, tracer, child, child_context, include_content)
    span.end(end_time=end)
