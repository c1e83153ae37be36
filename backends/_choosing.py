"""``llm.select`` and ``llm.rank`` on remote backends: by scores, or by constrained generation.

:class:`Chooser` gives a backend ``select`` and ``rank`` methods on one it provides,
``_option_scores``. A backend that scores text (a llama.cpp server) returns each
option's token log-probs combined as ``scoring`` says (``onetwo.builtins.choice``); one
that cannot (OpenAI's chat models, Gemini, a chat-only server) asks the model to choose,
with :func:`by_generation`: the prompt and the options go in one user message, and the
reply is constrained by a JSON schema to ``{"answer": <one of the options>}`` (an
``enum``). Where the API returns the top log-probs of each generated token, each option
scores the log-prob of its first token at the position where the answer began.

Example:
    >>> scores = await by_generation("The capital of France is", [" Paris", " Rome"], ask)
    >>> scores.method   # doctest: +SKIP
    'generation'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from onetwo.builtins import choice
from onetwo.builtins.choice import Scores, Scoring
from onetwo.errors import OutputParseError

__all__ = ["Ask", "Chooser", "TopLogprobs", "by_generation", "labels", "question", "schema"]

TopLogprobs = list[tuple[str, list[tuple[str, float]]]]
"""Each generated token with the top candidates at its position: ``(token, [(text, lp)])``."""
Ask = Callable[[str, dict[str, Any]], Awaitable[tuple[str, TopLogprobs | None]]]
"""Send a question constrained to a JSON schema: the reply and its top log-probs, if any."""

_ANSWER_START = re.compile(r'"answer"\s*:\s*"')


class Chooser:
    """``select`` and ``rank`` (as ``llm.select``/``llm.rank`` take them) on
    :meth:`_option_scores`, which a backend implements."""

    async def _option_scores(self, prompt: Any, options: list[str], scoring: Scoring) -> Scores:
        """One score per option (higher is better)."""
        raise NotImplementedError

    async def select(
        self,
        prompt: Any,
        options: Sequence[Any],
        *,
        include_details: bool = False,
        scoring: Scoring | None = None,
    ) -> Any:
        """The best option; ``(option, index, scores)`` with ``include_details``."""
        texts, how = choice.check_options("llm.select", options, scoring)
        scores = await self._option_scores(prompt, texts, how)
        return choice.selected(options, scores, include_details)

    async def rank(
        self,
        prompt: Any,
        options: Sequence[Any],
        top_k: int = 1,
        *,
        include_details: bool = False,
        scoring: Scoring | None = None,
    ) -> Any:
        """The ``top_k`` best options (0: all); ``(options, scores)`` with ``include_details``."""
        texts, how = choice.check_options("llm.rank", options, scoring, top_k)
        scores = await self._option_scores(prompt, texts, how)
        return choice.ranked(options, scores, top_k, include_details)


def labels(options: Sequence[str]) -> list[str]:
    """What the model sees and answers for each option: the option without surrounding
    spaces (a chat model writes " Paris" as "Paris"), unless that makes two alike."""
    stripped = [o.strip() for o in options]
    return stripped if len(set(stripped)) == len(set(options)) else list(options)


def question(prompt: str, options: Sequence[str]) -> str:
    """The user message that asks the model to choose among the option labels."""
    lines = "\n".join(f"- {json.dumps(o)}" for o in options)
    return f"{prompt}\n\nChoose the continuation of the text above:\n{lines}"


def schema(options: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of the reply: ``{"answer": <one of the options>}``."""
    answer = {"type": "string", "enum": list(dict.fromkeys(options))}
    return {"type": "object", "properties": {"answer": answer}, "required": ["answer"]}


async def by_generation(prompt: Any, options: list[str], ask: Ask) -> Scores:
    """Scores of ``options`` from the model's constrained answer (see the module doc)."""
    shown = labels(options)
    text, top = await ask(question(str(prompt), shown), schema(shown))
    try:
        answer = json.loads(text)["answer"]
        chosen = shown.index(answer)
    except (ValueError, KeyError, TypeError) as e:
        raise OutputParseError(
            f"llm.select: the model's constrained answer is not one of the options: {text!r:.200}"
            f" ({e}). The server may not enforce JSON schemas (response_format).",
            text=text,
        ) from e
    scores = _first_token_scores(shown, top) if top else None
    if scores is None or math.isinf(scores[chosen]):
        scores = [-math.inf] * len(options)
        scores[chosen] = 0.0
    best = scores[chosen]  # the model's choice ranks first, whatever the log-probs say
    values = [
        s if i == chosen or s < best else math.nextafter(best, -math.inf)
        for i, s in enumerate(scores)
    ]
    return Scores(values, "generation")


def _first_token_scores(options: list[str], top: TopLogprobs) -> list[float] | None:
    """Each option's log-prob of starting the answer's value, from the top candidates there."""
    raw = "".join(token for token, _ in top)
    matches = list(_ANSWER_START.finditer(raw))  # the last: a preamble may show the key too
    if not matches:
        return None
    offset, start = matches[-1].end(), 0
    for token, candidates in top:
        if start + len(token) > offset:
            lead = raw[start:offset]  # the part of the token before the value
            return [
                _logsumexp(lp for text, lp in candidates if _begins(o, lead, text)) for o in options
            ]
        start += len(token)
    return None


def _begins(option: str, lead: str, candidate: str) -> bool:
    """Whether the candidate token, after ``lead``, begins the JSON string of ``option``."""
    if not candidate.startswith(lead) or len(candidate) == len(lead):
        return False
    rest, encoded = candidate[len(lead) :], json.dumps(option)[1:]  # its text, then '"'
    return encoded.startswith(rest) or rest.startswith(encoded)


def _logsumexp(values: Any) -> float:
    values = list(values)
    if not values:
        return -math.inf
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))
