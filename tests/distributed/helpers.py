"""Strategies, scripted backends and small actors the distributed tests share.

Workers unpickle these by reference, so they live in a module every worker can import
(the tests' Ray cluster puts the repository on each worker's ``PYTHONPATH``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from typing import Any

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.caching import CallCache
from onetwo.core.sampling import current_sampling_key

__all__ = ["Scripted", "examples", "first_matches", "seeded", "solve"]


def seeded(prompt: str, **settings: Any) -> str:
    """A "model" whose samples differ per sampling key, deterministically."""
    key = current_sampling_key()
    return f"{prompt}|{key}|{hashlib.sha256(f'{prompt}/{key}'.encode()).hexdigest()[:6]}"


@ot.make_executable
async def solve(question: str) -> list[str]:
    """One call, then two samples of another: three values that depend on the sampling key."""
    first = await llm.generate_text(question)
    again = await ot.parallel(
        *ot.repeat(llm.generate_text(f"{question} again", temperature=1.0), 2)
    )
    return [first, *again]


def examples(n: int, distinct: int) -> list[dict[str, str]]:
    """``n`` examples over ``distinct`` questions (so some share their calls)."""
    return [{"question": f"q{i % distinct}", "answer": f"q{i % distinct}"} for i in range(n)]


def first_matches(target: str, prediction: list[str]) -> bool:
    return prediction[0].startswith(target + "|")


@dataclasses.dataclass(frozen=True)
class Scripted:
    """``setup(cache)`` of a fake with the seeded replies, logging each model call it makes.

    Attributes:
        log: a file each model call appends ``pid prompt`` to, or "" for none.
        gate: the name of a :class:`Gate` actor whose ``arrive`` a call of ``hold`` asks
            (see ``gates.py``).
        hold: the prompt whose call reports to the gate (and hangs if told to).
        per_worker: the reply is the worker's pid (a non-deterministic model).
    """

    log: str = ""
    gate: str = ""
    hold: str = ""
    per_worker: bool = False

    def __call__(self, cache: CallCache | None) -> FakeBackend:
        return FakeBackend(default_reply=self.reply, cache=cache, model="seeded")

    async def reply(self, prompt: str, **settings: Any) -> str:
        if self.log:
            _append(self.log, f"{os.getpid()} {prompt}\n")
        if self.gate and prompt == self.hold:
            import ray  # here: the offline replay must not import Ray

            gate = ray.get_actor(self.gate)
            if await gate.arrive.remote(os.getpid()):
                await asyncio.Event().wait()  # hang here until killed
        if self.per_worker:
            return f"pid {os.getpid()}"
        return seeded(prompt, **settings)


def _append(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line)
