"""API keys reach the server's auth header and nowhere else: not the cache, traces, reprs,
errors or logs. Checked on real calls of both backends, through a proxy that sees the
headers; also keys carried by ``base_url`` (userinfo, query) and keys a server echoes in
its error body."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import traceback
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


def exposed(
    backend: Any, proxy: FaultProxy, fault: Fault, caplog: pytest.LogCaptureFixture
) -> tuple[BackendHTTPError, list[str]]:
    """Run ``strategy`` with ``fault`` on its first request; the 401 it got and every
    text a user could see afterwards (reprs, identity, trace, error, logs)."""
    caplog.set_level(logging.DEBUG)
    backend.register()
    proxy.inject(fault)
    (_, error), trace = ot.run(strategy(), enable_tracing=True)
    assert error.status == 401
    return error, [
        repr(backend),
        json.dumps(backend.identity()),
        repr(trace),
        json.dumps(trace.to_dict(), default=repr),
        trace._repr_html_(),
        ot.HTMLRenderer().render(trace),
        str(error),
        repr(error.body),
        "".join(traceback.format_exception(error)),
        repr(pickle.dumps(error)),
        caplog.text,
    ]


def stored(cache: Path) -> bytes:
    return b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())


def test_the_key_goes_in_the_auth_header_only(
    kind_and_proxy: tuple[str, FaultProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kind, proxy = kind_and_proxy
    backend = make_backend(kind, proxy, tmp_path / "cache")
    _, visible = exposed(backend, proxy, Fault.status(401), caplog)

    header = "authorization" if kind == "openai" else "x-goog-api-key"
    expected = f"Bearer {SECRET}" if kind == "openai" else SECRET
    assert [r.headers.get(header) for r in proxy.requests] == [expected] * 3
    assert [SECRET in text for text in visible] == [False] * len(visible)
    assert stored(tmp_path / "cache") and SECRET.encode() not in stored(tmp_path / "cache")
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(backend._api_key)


URL_PASSWORD = "pw-in-url-0123456789"
URL_KEY = "key-in-query-0123456789"


def make_url_backend(kind: str, proxy: FaultProxy, cache: Path) -> Any:
    """A backend whose base_url carries a password (userinfo) and a key (query)."""
    host = proxy.url.removeprefix("http://")
    if kind == "openai":
        from onetwo.backends.openai_api import OpenAIAPI

        url = f"http://user:{URL_PASSWORD}@{host}/v1?api_key={URL_KEY}&tier=free"
        return OpenAIAPI("smollm2", base_url=url, server_kind="llama.cpp", cache=cache)
    genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
    url = f"http://user:{URL_PASSWORD}@{host}/?key={URL_KEY}&tier=free"
    return genai_api.GoogleGenAIAPI("gemini-2.5-flash", api_key=SECRET, base_url=url, cache=cache)


def test_keys_in_base_url_and_echoed_by_the_server_are_redacted(
    kind_and_proxy: tuple[str, FaultProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kind, proxy = kind_and_proxy
    backend = make_url_backend(kind, proxy, tmp_path / "cache")
    # The server echoes every credential it was sent in its 401 body.
    echo = f"invalid credentials {URL_PASSWORD} {URL_KEY} {SECRET}"
    fault = Fault.status(401, body={"error": {"message": echo, "key": [URL_KEY]}})
    error, visible = exposed(backend, proxy, fault, caplog)

    # The credentials still reach the server: userinfo as basic auth, the query as sent.
    basic = base64.b64encode(f"user:{URL_PASSWORD}".encode()).decode()
    for received in proxy.requests:
        assert f"{URL_KEY}&tier=free" in received.path
        assert received.headers["authorization"] == f"Basic {basic}"
    assert "invalid credentials ***" in str(error)
    for secret in (URL_PASSWORD, URL_KEY, SECRET):
        assert [secret in text for text in visible] == [False] * len(visible), secret
        assert secret.encode() not in stored(tmp_path / "cache")
    assert "tier=free" in backend.base_url  # what is no credential is still shown
