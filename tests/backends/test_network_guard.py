"""The network guard: on for the whole suite, loopback only, checked before any request."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from onetwo.backends import network
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


BLOCKED_BEFORE_ANY_CONNECTION = """
import sys
events = []
sys.addaudithook(
    lambda event, args: events.append((event, args[1:]))
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname")
    else None
)
from onetwo import ot
from onetwo.backends import network
from onetwo.backends.google_genai_api import GoogleGenAIAPI
from onetwo.backends.openai_api import OpenAIAPI
from onetwo.builtins import llm
from onetwo.errors import NetworkBlocked

network.set_loopback_only(True)
for backend in [
    OpenAIAPI("gpt-4o-mini", api_key="sk-test"),
    OpenAIAPI("m", base_url="http://10.255.0.1:8080/v1"),
    GoogleGenAIAPI("gemini-2.5-flash", api_key="test"),
    GoogleGenAIAPI("g", api_key="test", base_url="http://192.0.2.1"),
]:
    backend.register()
    try:
        ot.run(llm.generate_text("hi"))
    except NetworkBlocked as e:
        print("blocked")
print(events)
"""


@pytest.mark.skipif(
    importlib.util.find_spec("openai") is None or importlib.util.find_spec("google.genai") is None,
    reason="needs openai and google-genai",
)
def test_backends_are_blocked_before_any_lookup_or_connection() -> None:
    # An audit hook sees every DNS lookup and socket connection the process makes.
    out = subprocess.run(
        [sys.executable, "-c", BLOCKED_BEFORE_ANY_CONNECTION],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["blocked"] * 4 + ["[]"]
