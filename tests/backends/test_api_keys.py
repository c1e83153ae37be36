"""API keys reach the server's auth header and nowhere else: not the cache, traces, reprs,
errors or logs. Checked on real calls of both backends, through a proxy that sees the
headers."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core.content import Message, PredefinedRole
from onetwo.errors import BackendHTTPError
from tests.rig.faults import Fault, FaultProxy

pytestmark = pytest.mark.rig

SECRET = "sk-test-0123456789-secret"


def make_backend(kind: str, proxy: FaultProxy, cache: Path) -> Any:
    if kind == "openai":
        from onetwo.backends.openai_api import OpenAIAPI

        url = proxy.url + "/v1"
        return OpenAIAPI(
            "smollm2", api_key=SECRET, base_url=url, server_kind="llama.cpp", cache=cache
        )
    genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
    return genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash", api_key=SECRET, base_url=proxy.url, cache=cache
    )


@pytest.fixture(params=["openai", "gemini"])
def kind_and_proxy(request: pytest.FixtureRequest) -> tuple[str, FaultProxy]:
    fixture = "fault_proxy" if request.param == "openai" else "gemini_fault_proxy"
    return request.param, request.getfixturevalue(fixture)


@ot.make_executable
async def strategy() -> tuple[Any, BackendHTTPError]:
    try:
        await llm.generate_text("Bye", max_tokens=2)  # answered 401 by the proxy
    except BackendHTTPError as e:
        error = e
    text = await llm.generate_text("Hi", max_tokens=2, include_details=True)
    await llm.chat([Message(PredefinedRole.USER, "Hello")], max_tokens=2)
    return text, error


def test_the_key_goes_in_the_auth_header_only(
    kind_and_proxy: tuple[str, FaultProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kind, proxy = kind_and_proxy
    caplog.set_level(logging.DEBUG)
    backend = make_backend(kind, proxy, tmp_path / "cache")
    backend.register()
    proxy.inject(Fault.status(401))
    (_, error), trace = ot.run(strategy(), enable_tracing=True)

    header = "authorization" if kind == "openai" else "x-goog-api-key"
    expected = f"Bearer {SECRET}" if kind == "openai" else SECRET
    assert [r.headers.get(header) for r in proxy.requests] == [expected] * 3
    assert error.status == 401
    visible = [
        repr(backend),
        json.dumps(backend.identity()),
        repr(trace),
        json.dumps(trace.to_dict(), default=repr),
        trace._repr_html_(),
        ot.HTMLRenderer().render(trace),
        str(error),
        repr(error.body),
        repr(pickle.dumps(error)),
        caplog.text,
    ]
    assert [SECRET in text for text in visible] == [False] * len(visible)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert stored and SECRET.encode() not in stored
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(backend._api_key)
