"""Exact tokenizing and scoring on a llama.cpp server: what makes ``llm.select`` work.

llama.cpp's server returns no log-probs for the prompt (it ignores ``echo``), so a
target is scored by forcing it as the continuation of the prompt with a token-id grammar
and summing the log-probs the server reports for the forced tokens. Those are the
model's raw probabilities, taken before the grammar applies: the sum matches teacher
forcing one token at a time exactly. For each target:

1. tokenize the prompt and prompt+target with ``/tokenize``; the target's tokens are what
   the second adds to the first;
2. ``/v1/completions`` with the prompt's token ids, ``max_tokens=len(target tokens)``,
   ``logprobs=1`` and the grammar ``root ::= <[id1]> <[id2]> ...``;
3. read the returned log-probs, one per forced token (``score_text`` sums them,
   ``llm.select`` combines them as its ``scoring`` says).

Example:
    >>> await token_logprobs(backend, "The capital of France is", [" Paris"])  # doctest: +SKIP
    [[-0.26]]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from onetwo.backends._openai_wire import logprob_entries
from onetwo.errors import BackendError

__all__ = ["LlamaCppServer", "token_logprobs", "tokenize"]

T = TypeVar("T")


class LlamaCppServer(Protocol):
    """What scoring needs of a backend on a llama.cpp server (``OpenAIAPI`` has it)."""

    async def _base_url(self) -> str | None: ...

    def _call(self, what: str, send: Callable[[Any], Awaitable[T]]) -> Awaitable[T]: ...

    def _request_model(self) -> str: ...


async def tokenize(backend: LlamaCppServer, text: str) -> list[int]:
    """The token ids of ``text``, from the server's ``/tokenize`` (no special tokens)."""
    root = (await backend._base_url() or "").removesuffix("/v1")
    response = await backend._call(
        "tokenize",
        lambda c: c.post(root + "/tokenize", cast_to=object, body={"content": text}),
    )
    tokens = response.get("tokens") if isinstance(response, Mapping) else None
    if not isinstance(tokens, list):
        raise BackendError(f"{backend!r}: /tokenize answered without tokens: {response!r:.200}")
    return [int(t) for t in tokens]


async def token_logprobs(
    backend: LlamaCppServer, prompt: str, targets: Sequence[str]
) -> list[list[float]]:
    """The log-probability of each token of each target as the continuation of ``prompt``."""
    prefix = await tokenize(backend, prompt)
    return list(await asyncio.gather(*(_score_one(backend, prompt, prefix, t) for t in targets)))


async def _score_one(
    backend: LlamaCppServer, prompt: str, prefix: list[int], target: str
) -> list[float]:
    context, forced = _split(prefix, await tokenize(backend, prompt + target))
    if not forced:
        return []
    if not context:
        raise ValueError("llm.score_text needs a non-empty prompt on a llama.cpp server.")
    response = await backend._call(
        "score_text",
        lambda c: c.completions.create(
            model=backend._request_model(),
            prompt=context,
            max_tokens=len(forced),
            temperature=0.0,
            logprobs=1,
            extra_body={"grammar": _forcing_grammar(forced), "cache_prompt": False},
        ),
    )
    entries = logprob_entries(response.choices[0].logprobs)
    generated = [int(e.get("id", -1)) for e in entries]
    if generated[: len(forced)] != forced:
        raise BackendError(
            f"{backend!r}: scoring forced the tokens {forced} but the server generated "
            f"{generated}; it may not support token-id grammars (llama.cpp's `<[id]>`)."
        )
    return [float(e["logprob"]) for e in entries[: len(forced)]]


def _split(prefix: list[int], full: list[int]) -> tuple[list[int], list[int]]:
    """(context, forced): the tokens of prompt+target before and after the prompt's.

    When the prompt's last token merges with the target's first ("Par" + "is"), the
    tokenizations part earlier: the target is then scored from the last boundary the
    two share, so the merged token counts as part of the target.
    """
    shared = 0
    for a, b in zip(prefix, full):
        if a != b:
            break
        shared += 1
    return full[:shared], full[shared:]


def _forcing_grammar(ids: list[int]) -> str:
    return "root ::= " + " ".join(f"<[{i}]>" for i in ids)
