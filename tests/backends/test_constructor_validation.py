"""Every backend constructor argument is checked where it is written.

One table of bad calls: each raises at once, whose message names the parameter, the value
received and the fix, instead of failing later at the first call (or never:
``OpenAIAPI(timeout=-1)`` used to be accepted). The error is an ``InvalidArgumentError``
(a ``OneTwoError`` that is a ``TypeError`` and a ``ValueError`` too), except for the two
checks that were there before (``cache=``: ``TypeError``; ``batch_size``:
``ValueError``). No server is contacted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from onetwo.backends import RateLimiter, RetryPolicy
from onetwo.backends.fake import FakeBackend
from onetwo.errors import InvalidArgumentError

openai_api = pytest.importorskip("onetwo.backends.openai_api")
genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
local = pytest.importorskip("onetwo.backends.local")
URL = "http://127.0.0.1:9/v1"
NAN = math.nan


def openai(**kwargs: Any) -> Any:
    kwargs.setdefault("base_url", URL)
    return openai_api.OpenAIAPI(**kwargs)


def gemini(**kwargs: Any) -> Any:
    return genai_api.GoogleGenAIAPI(**kwargs)


def fake(**kwargs: Any) -> Any:
    return FakeBackend(**kwargs)


def server(**kwargs: Any) -> Any:
    return local.LocalServer(**kwargs)


def local_model(**kwargs: Any) -> Any:
    return local.LocalModel(**kwargs)


# (constructor, the bad argument's name, its value, the error type)
BAD: list[tuple[Callable[..., Any], str, Any, type[Exception]]] = [
    (openai, "timeout", -1, ValueError),
    (openai, "timeout", 0, ValueError),
    (openai, "timeout", NAN, ValueError),
    (openai, "timeout", "60", TypeError),
    (openai, "model", None, TypeError),
    (openai, "model", "", ValueError),
    (openai, "model", 5, TypeError),
    (openai, "api_key", 123, TypeError),
    (openai, "base_url", "127.0.0.1:8080/v1", ValueError),
    (openai, "base_url", 8080, TypeError),
    (openai, "embedding_model", 3, TypeError),
    (openai, "embed_batch_size", 0, ValueError),
    (openai, "embed_batch_size", 2.5, TypeError),
    (openai, "retry", 3, TypeError),
    (openai, "requests_per_second", 0, ValueError),
    (openai, "requests_per_second", -1, ValueError),
    (openai, "max_concurrency", 0, ValueError),
    (openai, "max_concurrency", 1.5, TypeError),
    (openai, "rate_limiter", "5/s", TypeError),
    (openai, "temperature", -1, ValueError),
    (openai, "temperature", "hot", TypeError),
    (openai, "temperature", NAN, ValueError),
    (openai, "max_tokens", -1, ValueError),
    (openai, "max_tokens", 1.5, TypeError),
    (openai, "max_tokens", "10", TypeError),
    (openai, "stop", 123, TypeError),
    (openai, "stop", [1], TypeError),
    (openai, "top_k", -5, ValueError),
    (openai, "top_k", 2.5, TypeError),
    (openai, "top_p", 2, ValueError),
    (openai, "server_kind", "vllm", ValueError),
    (openai, "use_completions", "yes", TypeError),
    (openai, "max_samples_per_request", 0, ValueError),
    (openai, "cache", 5, TypeError),
    (gemini, "model", None, TypeError),
    (gemini, "timeout", -1, ValueError),
    (gemini, "api_version", 1, TypeError),
    (gemini, "api_version", "", ValueError),
    (gemini, "embedding_dimensions", 0, ValueError),
    (gemini, "embed_batch_size", -3, ValueError),
    (gemini, "top_p", 1.5, ValueError),
    (server, "model", None, TypeError),
    (server, "n_parallel", 0, ValueError),
    (server, "n_ctx_per_slot", 1, ValueError),
    (server, "n_threads", 0, ValueError),
    (server, "port", 70000, ValueError),
    (server, "port", "8080", TypeError),
    (server, "embedding", "yes", TypeError),
    (server, "verbose", 1, TypeError),
    (local_model, "timeout", -1, ValueError),
    (local_model, "max_tokens", 0, ValueError),
    (fake, "default_reply", object(), TypeError),
    (fake, "replies", {"a": 5}, ValueError),
    (fake, "replies", [("a", "b")], TypeError),
    (fake, "regex_replies", [("(", "x")], ValueError),
    (fake, "regex_replies", ["abc"], TypeError),
    (fake, "scores", 5, TypeError),
    (fake, "latency", -1, ValueError),
    (fake, "latency", NAN, ValueError),
    (fake, "embedding_size", 0, ValueError),
    (fake, "model", None, TypeError),
    (fake, "batch_size", 0, ValueError),
    (fake, "implements", ["generate"], ValueError),
    (RetryPolicy, "attempts", 0, ValueError),
    (RetryPolicy, "attempts", 1.5, TypeError),
    (RetryPolicy, "initial_backoff", -1, ValueError),
    (RetryPolicy, "initial_backoff", math.inf, ValueError),
    (RetryPolicy, "max_backoff", -1, ValueError),
    (RetryPolicy, "max_retry_after", "60", TypeError),
    (RetryPolicy, "clock", None, TypeError),
    (RateLimiter, "requests_per_second", 0, ValueError),
    (RateLimiter, "requests_per_second", "5", TypeError),
    (RateLimiter, "max_concurrency", 0, ValueError),
    (RateLimiter, "clock", 5, TypeError),
]


@pytest.mark.parametrize(
    ("make", "name", "value", "error"),
    BAD,
    ids=[f"{make.__name__}-{name}={value!r}" for make, name, value, _ in BAD],
)
def test_a_bad_argument_names_itself_the_value_and_the_fix(
    make: Callable[..., Any], name: str, value: Any, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        make(**{name: value})
    message = str(info.value)
    if name not in ("cache", "batch_size"):
        assert isinstance(info.value, InvalidArgumentError)
    assert name in message and repr(value)[:20] in message, message
    assert "e.g." in message or "takes" in message or ">= 1" in message, message


def test_there_are_at_least_seventy_bad_calls() -> None:
    assert len(BAD) >= 70


@pytest.mark.parametrize(
    "make",
    [
        lambda: openai(timeout=0.5, temperature=0, max_tokens=1, stop="\n", top_p=1),
        lambda: gemini(embedding_dimensions=8, api_version="v1beta"),
        lambda: fake(default_reply=["a", "b"], latency=0, scores=lambda p, t: 0.0),
        lambda: fake(default_reply=KeyError, regex_replies=[(r"\d", "n")]),
        lambda: RetryPolicy(attempts=1, initial_backoff=0),
        lambda: RateLimiter(requests_per_second=0.5, max_concurrency=1),
        lambda: server(port=0, n_threads=None),
    ],
)
def test_good_arguments_pass(make: Callable[[], Any]) -> None:
    make()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: openai(model_name="gpt-4o-mini", max_retries=12, cache_filename="/tmp/c"),
            [
                "model_name= is the model's name as the first argument: OpenAIAPI('gpt-4o-mini')",
                "max_retries= is retry=RetryPolicy(attempts=max_retries + 1)",
                "cache_filename= is cache= (a folder",
            ],
        ),
        (
            lambda: gemini(generate_model_name="models/gemini-2.5-flash", threadpool_size=100),
            [
                "generate_model_name= is the model's name as the first argument: "
                "GoogleGenAIAPI('gemini-2.5-flash')",
                "threadpool_size= is max_concurrency=",
            ],
        ),
    ],
)
def test_onetwos_constructor_arguments_say_what_they_are_called_here(
    make: Callable[[], Any], expected: list[str]
) -> None:
    # The reference's backend cell, as a OneTwo user first runs it.
    with pytest.raises(InvalidArgumentError, match="unexpected argument") as caught:
        make()
    assert isinstance(caught.value, TypeError)  # as the unknown keyword always was
    for part in expected:
        assert part in str(caught.value)
    with pytest.raises(InvalidArgumentError) as plain:
        openai(modle="gpt-4o-mini")
    assert "OneTwo's names" not in str(plain.value) and "'modle'" in str(plain.value)
