"""Scripted model replies for the agent tests: the reply depends on the prompt only.

A reply chosen by the number of steps already in the prompt (not by a call counter) is
the same in a rerun that replays the first steps from the cache, as a real model's
reply to the same prompt would be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["planning_script", "react_script"]


def react_script(replies: Sequence[str], final: str = "forced answer") -> Callable[..., str]:
    """Step ``i`` of a ReAct run gets ``replies[i]``; a forced-finish prompt gets ``final``."""

    def reply(prompt: str, **_: Any) -> str:
        if prompt.endswith("[Finish]:"):
            return " " + final
        steps = prompt.split("Now the real question.", 1)[1].count("\n[Observe]:")
        return replies[min(steps, len(replies) - 1)]

    return reply


def planning_script(codes: Sequence[str], final: str = "forced answer") -> Callable[..., str]:
    """Step ``i`` of a Python-planning run gets ``codes[i]`` (fenced, as models write)."""

    def reply(prompt: str, **_: Any) -> str:
        if prompt.endswith("Answer:"):
            return " " + final
        steps = prompt.rsplit("Question: ", 1)[1].count("\nOutput:\n")
        return codes[min(steps, len(codes) - 1)] + "\n```"

    return reply
