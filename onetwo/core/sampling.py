"""Independent samples: ``repeat`` and the sampling key.

``repeat(e, n)`` runs ``n`` independent copies of ``e`` (draws, at temperature > 0); copy
``i`` runs under the *sampling key* ``"i"``, and copy 5 inside copy 3 under ``"3#5"``. The
cache gives each key its own sample, and the same one on replay, whatever the order.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> answers = ot.run(ot.repeat(llm.generate_text("Name a color:"), 3))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from onetwo.core.executing import Executable

__all__ = ["current_sampling_key", "repeat", "sampling_key", "under_sampling_key"]

T = TypeVar("T")

# "" means "not inside any repeat".
_sampling_key: ContextVar[str] = ContextVar("onetwo_sampling_key", default="")


def current_sampling_key() -> str:
    """The sampling key of the running code: ``""`` outside ``repeat``, else ``"i"``/``"i#j"``."""
    return _sampling_key.get()


def sampling_key(index: int | str) -> str:
    """The key copy ``index`` gets when started from the current context."""
    parent = _sampling_key.get()
    return f"{parent}#{index}" if parent else str(index)


@contextmanager
def under_sampling_key(key: str) -> Iterator[None]:
    """Run the body under an explicit sampling key (restored afterwards)."""
    token = _sampling_key.set(key)
    try:
        yield
    finally:
        _sampling_key.reset(token)


class _Repeat(Executable[list[T]]):
    __slots__ = ("_executable", "_n")

    def __init__(self, executable: Executable[T], num_repeats: int) -> None:
        self._executable = executable
        self._n = num_repeats

    def __repr__(self) -> str:
        return f"repeat({self._executable!r}, {self._n})"

    async def _run(self) -> list[T]:
        keys = [sampling_key(i) for i in range(self._n)]
        return list(await asyncio.gather(*(self._one(k) for k in keys)))

    async def _one(self, key: str) -> T:
        # gather wraps each coroutine in its own Task, with its own copy of the context,
        # so setting the key here cannot leak into a sibling copy.
        _sampling_key.set(key)
        return await self._executable


def repeat(executable: Executable[T], num_repeats: int) -> Executable[list[T]]:
    """``num_repeats`` independent copies of ``executable``, run concurrently, in order.

    Args:
        executable: what to repeat. It is not copied: each copy runs it afresh under its
            own sampling key.
        num_repeats: how many copies (>= 0).
    """
    if not isinstance(executable, Executable):
        raise TypeError(
            f"repeat() needs an Executable, got {type(executable).__name__}: {executable!r}. "
            "Call the builtin or @ot.make_executable function first, e.g. "
            "ot.repeat(llm.generate_text(prompt), 3)."
        )
    if not isinstance(num_repeats, int) or num_repeats < 0:
        raise ValueError(f"num_repeats must be an int >= 0, got {num_repeats!r}.")
    return _Repeat(executable, num_repeats)
