"""The network guard: on for the whole suite, loopback only, checked before any request."""

from __future__ import annotations

import importlib.util

import pytest

from onetwo import ot
from onetwo.backends import network
from onetwo.builtins import llm
from onetwo.errors import NetworkBlocked


def test_the_suite_runs_with_the_guard_on() -> None:
    assert network.is_loopback_only()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/v1", "http://127.5.0.1/x", "http://localhost:1/", "http://[::1]:80/"],
)
def test_loopback_addresses_pass(url: str) -> None:
    network.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "https://generativelanguage.googleapis.com",
        "http://10.0.0.1:8080",
        "http://0.0.0.0:80",
        "http://127.0.0.1.example.com/",
    ],
)
def test_other_addresses_are_blocked_with_the_fix_in_the_message(url: str) -> None:
    with pytest.raises(NetworkBlocked, match="only loopback addresses"):
        network.check_url(url)


def test_the_guard_can_be_lifted_for_a_block_and_is_restored() -> None:
    with network.loopback_only(False):
        network.check_url("https://api.openai.com/v1")
    with pytest.raises(NetworkBlocked):
        network.check_url("https://api.openai.com/v1")


def test_the_environment_variable_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "_loopback_only", None)
    monkeypatch.setenv("ONETWO_LOOPBACK_ONLY", "0")
    assert not network.is_loopback_only()
    monkeypatch.setenv("ONETWO_LOOPBACK_ONLY", "1")
    assert network.is_loopback_only()


@pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="needs openai")
def test_openai_backend_is_blocked_before_any_request() -> None:
    from onetwo.backends.openai_api import OpenAIAPI

    OpenAIAPI("gpt-4o-mini", api_key="sk-test").register()
    with pytest.raises(NetworkBlocked):
        ot.run(llm.generate_text("hi"))


@pytest.mark.skipif(importlib.util.find_spec("google.genai") is None, reason="needs genai")
def test_gemini_backend_is_blocked_before_any_request() -> None:
    from onetwo.backends.google_genai_api import GoogleGenAIAPI

    GoogleGenAIAPI("gemini-2.5-flash", api_key="test").register()
    with pytest.raises(NetworkBlocked):
        ot.run(llm.generate_text("hi"))
