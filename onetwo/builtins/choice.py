"""Choosing among options: the scores behind ``llm.select`` and ``llm.rank``.

A backend that scores text (llama.cpp, the fake) scores each option as the continuation
of the prompt, by ``scoring``: ``"mean"`` (the default), the mean log-prob of its tokens,
so options of different lengths compete fairly (an empty one scores ``-inf``); ``"sum"``,
their sum, its log-probability (short options win, an empty one scores 0.0);
``"normalized"``, the sum minus its sum after :data:`UNCONDITIONAL_PROMPT`, how much the
prompt raises its likelihood (options likely anywhere, like "the", lose). A backend that
cannot score text makes the model answer with one option, forced by a JSON schema;
:attr:`Scores.method` says how a choice was made.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> option, index, scores = ot.run(llm.select("2+2=", [" 4", " 5"], include_details=True))
    >>> scores.method   # doctest: +SKIP
    'score_text:mean'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast

__all__ = [
    "SCORINGS",
    "UNCONDITIONAL_PROMPT",
    "Scores",
    "Scoring",
    "check_choice",
    "check_options",
    "check_targets",
    "combine",
    "ranked",
    "selected",
]

Scoring = Literal["sum", "mean", "normalized"]
SCORINGS: tuple[Scoring, ...] = ("sum", "mean", "normalized")
UNCONDITIONAL_PROMPT = "Answer:"
"""The prompt ``scoring="normalized"`` compares each option's likelihood against."""


class Scores(list[float]):
    """One score per option (higher is better), and how they were obtained.

    Attributes:
        method: ``"score_text:<scoring>"``, or ``"generation"`` (the model answered with
            one option under a JSON schema; each option scores the log-prob of its first
            token, ``-inf`` if the API reported none; the chosen option ranks first).
    """

    def __init__(self, values: Iterable[float], method: str) -> None:
        super().__init__(values)
        self.method = method

    def __repr__(self) -> str:
        return f"Scores({list(self)!r}, method={self.method!r})"


def check_targets(where: str, name: str, targets: Any) -> list[str]:
    """``targets`` as a list of str; a lone str (whose letters would be scored) is refused."""
    if isinstance(targets, str | bytes) or not isinstance(targets, Sequence):
        raise TypeError(
            f"{where}: {name} must be a list of texts, got {type(targets).__name__} "
            f"{targets!r:.80}. Wrap a single text in a list: [{targets!r:.40}]."
        )
    return [str(t) for t in targets]


def check_choice(where: str, name: str, value: Any) -> Any:
    """The check of ``select``/``rank``'s ``options``, ``top_k`` and ``scoring``."""
    if name == "options" and not check_targets(where, name, value):
        raise ValueError(f"{where} needs a non-empty list of options, got {value!r:.80}.")
    if name == "scoring" and value not in SCORINGS:
        raise ValueError(f"{where}: scoring must be one of {SCORINGS}, got {value!r}.")
    if name == "top_k" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(
            f"{where}: top_k must be an int >= 0 (the number of options to return, 0 for "
            f"all of them ranked), got {value!r}."
        )
    return value


def check_options(
    where: str, options: Any, scoring: str | None, top_k: int = 0
) -> tuple[list[str], Scoring]:
    """The options as texts and the scoring to use (``"mean"`` by default), checked."""
    check_choice(where, "top_k", top_k)
    if scoring is not None:
        check_choice(where, "scoring", scoring)
    check_choice(where, "options", options)
    return [str(o) for o in options], cast(Scoring, scoring or "mean")


def combine(scoring: Scoring, sums: Sequence[float], other: Sequence[float]) -> Scores:
    """The scores from each option's summed log-probs and ``other``: for ``"mean"`` its
    token count, for ``"normalized"`` its sum after :data:`UNCONDITIONAL_PROMPT`."""
    if scoring == "mean":
        values = [s / n if n > 0 else -math.inf for s, n in zip(sums, other, strict=True)]
    elif scoring == "normalized":
        values = [s - b for s, b in zip(sums, other, strict=True)]
    else:
        values = list(sums)
    return Scores(values, f"score_text:{scoring}")


def selected(options: Sequence[Any], scores: Scores, include_details: bool) -> Any:
    """What ``llm.select`` returns: the best option, or ``(option, index, scores)``."""
    best = max(range(len(scores)), key=scores.__getitem__)  # the first of equals
    return (options[best], best, scores) if include_details else options[best]


def ranked(options: Sequence[Any], scores: Scores, top_k: int, include_details: bool) -> Any:
    """What ``llm.rank`` returns: the ``top_k`` best (0: all) first, or ``(options, scores)``."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties keep order
    best = [options[i] for i in (order[:top_k] if top_k else order)]
    return (best, scores) if include_details else best
