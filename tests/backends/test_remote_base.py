"""The shared base of the remote backends: options, default settings, identity, keys.

No server is contacted here; what reaches the wire is checked against real servers in
test_openai_api.py and test_google_genai_api.py.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from onetwo.errors import ConfigurationError

OpenAIAPI = pytest.importorskip("onetwo.backends.openai_api").OpenAIAPI
genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
URL = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize("make", [OpenAIAPI, genai_api.GoogleGenAIAPI])
def test_an_unknown_option_names_itself_and_the_options(make: Any) -> None:
    with pytest.raises(TypeError, match=r"\['temprature'\].*'temperature'"):
        make("m", base_url=URL, api_key="k", temprature=0.5)


def test_default_settings_are_part_of_the_identity() -> None:
    plain = OpenAIAPI("m", base_url=URL).identity()
    tuned = OpenAIAPI("m", base_url=URL, temperature=0.0, stop=["\n"], top_p=None).identity()
    assert tuned == {**plain, "temperature": 0.0, "stop": ["\n"]}  # None is no setting
    gemini = genai_api.GoogleGenAIAPI("g", max_tokens=5).identity()
    assert gemini == {
        "provider": "gemini",
        "model": "g",
        "max_tokens": 5,
        "embedding_model": "gemini-embedding-001",
    }


@pytest.mark.parametrize("name", ["generate_text", "chat", "generate_texts"])
def test_builtins_show_the_settings_as_parameters(name: str) -> None:
    params = inspect.signature(getattr(OpenAIAPI(base_url=URL), name)).parameters
    assert {"temperature", "max_tokens", "stop", "top_k", "top_p"} <= params.keys()
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    assert "stop" not in inspect.signature(OpenAIAPI.generate_object).parameters


def test_a_missing_key_says_where_to_put_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    backend = genai_api.GoogleGenAIAPI("g")
    with pytest.raises(ConfigurationError, match=r"pass api_key=\.\.\. or set the GEMINI_API_KEY"):
        backend._key()
    monkeypatch.setenv("GOOGLE_API_KEY", "from-env")
    assert backend._key() == "from-env"
    assert "from-env" not in repr(backend) + repr(backend.identity())


@pytest.mark.parametrize("make", [OpenAIAPI, genai_api.GoogleGenAIAPI])
def test_credentials_in_base_url_are_not_shown(make: Any) -> None:
    url = "http://me:hunter2-password@127.0.0.1:9/v1?key=query-key-123&api-version=2"
    backend = make("m", base_url=url, api_key="k")
    shown = repr(backend) + repr(backend.identity())
    assert "hunter2-password" not in shown and "query-key-123" not in shown
    assert backend.base_url == "http://me:***@127.0.0.1:9/v1?key=***&api-version=2"
    # Two keys for one server share the cache: the identity holds no credential.
    other = make("m", base_url=url.replace("query-key-123", "another-key-456"), api_key="k")
    assert other.identity() == backend.identity()


def test_a_key_from_the_environment_is_redacted_from_errors_once_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from onetwo.backends._common import redact

    monkeypatch.setenv("GEMINI_API_KEY", "env-key-0123456789")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    backend = genai_api.GoogleGenAIAPI("g")
    assert backend._key() == "env-key-0123456789"
    body = {"error": {"message": "bad key env-key-0123456789", "details": ["env-key-0123456789"]}}
    assert redact(body) == {"error": {"message": "bad key ***", "details": ["***"]}}
