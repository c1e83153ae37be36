"""GoogleGenAIAPI's ``thinking_config`` and ``safety_settings``: sent, keyed, checked.

A thinking model's thought summaries come back only when the request asks for them
(``ThinkingConfig(include_thoughts=True)``); the reference OneTwo's notebooks pass both
fields in their backend cell, as ``generate_config``. The shim answers a request that
includes thoughts with a real ``thought`` part from the local model.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core import caching
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import InvalidArgumentError
from tests.rig.gemini_shim import GeminiShim

genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
types = pytest.importorskip("google.genai.types")
KEY = "gemini-test-key-0123456789"


def gemini(shim: GeminiShim | None = None, **options: Any) -> Any:
    url = shim.url if shim is not None else "http://127.0.0.1:9"
    return genai_api.GoogleGenAIAPI("gemini-2.5-flash", api_key=KEY, base_url=url, **options)


def bodies(shim: GeminiShim, since: int = 0) -> list[dict[str, Any]]:
    """The ``generateContent`` request bodies from the ``since``-th request on."""
    found = shim.requests[since:]
    return [r.body for r in found if r.path.split("?")[0].endswith(":generateContent")]


def camel(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with lowerCamelCase names (Gemini takes either spelling; the SDK sends
    the fields of a config object as it holds them, snake_case)."""
    return {re.sub(r"_(\w)", lambda m: m[1].upper(), k): v for k, v in fields.items()}


@pytest.mark.rig
def test_every_request_carries_the_thinking_and_safety_fields(gemini_shim: GeminiShim) -> None:
    # The reference notebook's backend cell passes its generate_config as it stands.
    generate_config = {
        "safety_settings": genai_api.SAFETY_DISABLED,
        "thinking_config": types.ThinkingConfig(include_thoughts=False, thinking_budget=16),
    }
    start = len(gemini_shim.requests)
    with ot.RegistryContext():
        gemini(gemini_shim, max_tokens=4, **generate_config).register()
        ot.run(llm.generate_text("Name a color:"))
        ot.run(llm.chat([Message(PredefinedRole.USER, "Name a color.")]))
        ot.run(llm.generate_content("Name a color:"))
        ot.run(llm.generate_object("Is the sky blue?", bool, max_tokens=24, temperature=0.0))
        ot.run(llm.select("The sky is", ["blue", "green"]))
    sent = bodies(gemini_shim, start)
    assert len(sent) == 5
    for body in sent:
        assert camel(body["generationConfig"]["thinkingConfig"]) == {
            "includeThoughts": False,
            "thinkingBudget": 16,
        }
        assert len(body["safetySettings"]) == 4
        assert {s["threshold"] for s in body["safetySettings"]} == {"BLOCK_NONE"}


@pytest.mark.rig
def test_thought_summaries_are_the_details_thoughts(gemini_shim: GeminiShim) -> None:
    thinking = {"include_thoughts": True, "thinking_budget": 12}
    with ot.RegistryContext():
        gemini(gemini_shim, thinking_config=thinking).register()
        call = llm.generate_content("2 + 2 =", include_details=True, max_tokens=4)
        reply, details = ot.run(call)
    sent = camel(gemini_shim.requests[-1].body["generationConfig"]["thinkingConfig"])
    assert sent == {"includeThoughts": True, "thinkingBudget": 12}
    thoughts = details[llm.THOUGHTS]
    assert isinstance(thoughts, ChunkList) and str(thoughts).strip()
    assert str(thoughts) not in str(reply)  # the thought part is not in the answer
    assert all(c.content_type == "str" for c in [*reply.chunks, *thoughts.chunks])


def test_without_thoughts_the_details_thoughts_are_an_empty_chunk_list() -> None:
    content = types.Content(role="model", parts=[types.Part(text="4")])
    response = types.GenerateContentResponse(candidates=[types.Candidate(content=content)])
    assert genai_api._thoughts(response) == ChunkList() and not str(genai_api._thoughts(response))
    assert genai_api._chunks(response).chunks == [Chunk("4")]


def test_the_fields_are_part_of_the_cache_identity() -> None:
    plain = gemini().identity()
    assert "thinking_config" not in plain and "safety_settings" not in plain  # keys as before
    thinking = gemini(thinking_config={"thinking_budget": 0}).identity()
    assert thinking == {**plain, "thinking_config": {"thinking_budget": 0}}
    safe = gemini(safety_settings=genai_api.SAFETY_DISABLED).identity()
    assert [s["threshold"] for s in safe["safety_settings"]] == ["BLOCK_NONE"] * 4


@pytest.mark.rig
def test_another_thinking_config_is_another_cache_entry(
    gemini_shim: GeminiShim, tmp_path: pathlib.Path
) -> None:
    cache, start = caching.open_cache(tmp_path / "cache"), len(gemini_shim.requests)
    for budget in (0, 0, 8):
        with ot.RegistryContext():
            gemini(gemini_shim, thinking_config={"thinking_budget": budget}, cache=cache).register()
            ot.run(llm.generate_text("Name a color:", max_tokens=3))
    assert len(bodies(gemini_shim, start)) == 2  # the second budget-0 run was replayed
    budgets = sorted(
        r["call"]["backend"]["thinking_config"]["thinking_budget"] for r in cache.records()
    )
    assert budgets == [0, 8]


def test_the_backend_keeps_its_own_copy() -> None:
    config = types.ThinkingConfig(thinking_budget=64)
    backend = gemini(thinking_config=config)
    config.thinking_budget = 1024  # a later edit of the caller's object changes nothing
    assert backend.identity()["thinking_config"] == {"thinking_budget": 64}
    sent = backend._generation_config({"max_tokens": 5}).thinking_config
    assert sent.thinking_budget == 64 and sent is not config


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"thinking_config": 128}, r"thinking_config=128\): not a ThinkingConfig"),
        ({"thinking_config": {"budget": 1}}, r"budget: Extra inputs are not permitted"),
        ({"safety_settings": "BLOCK_NONE"}, r"must be a list of types.SafetySetting"),
        ({"safety_settings": [42]}, r"safety_settings\[0\]=42\): not a SafetySetting"),
    ],
)
def test_a_wrong_value_is_refused_where_it_is_written(
    options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=expected) as caught:
        gemini(**options)
    assert "Pass" in str(caught.value) or "pass" in str(caught.value)


@pytest.mark.rig
def test_thoughts_recorded_as_text_before_replay_as_a_chunk_list(
    gemini_shim: GeminiShim, tmp_path: pathlib.Path
) -> None:
    # Entries written when details["thoughts"] was a str ("") replay in today's shape.
    first = caching.open_cache(tmp_path / "first")
    with ot.RegistryContext():
        gemini(gemini_shim, cache=first).register()
        ot.run(llm.generate_content("Hi", include_details=True, max_tokens=3))
    (record,) = first.records()
    record["samples"][0]["thoughts"] = ""  # as the earlier version stored it
    lines = [{"format": "onetwo-call-cache/1"}, record]
    exported = tmp_path / "old.jsonl"
    exported.write_text("".join(json.dumps(line) + "\n" for line in lines))
    old = caching.open_cache(tmp_path / "old")
    old.import_jsonl(exported)
    sent = len(gemini_shim.requests)
    with ot.RegistryContext():
        gemini(gemini_shim, cache=old).register()
        _, details = ot.run(llm.generate_content("Hi", include_details=True, max_tokens=3))
    assert len(gemini_shim.requests) == sent  # replayed
    assert isinstance(details[llm.THOUGHTS], ChunkList) and not details[llm.THOUGHTS].chunks


def test_a_wrong_value_opens_no_cache_folder(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidArgumentError):
        gemini(thinking_config=128, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
