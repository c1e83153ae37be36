"""The ledger of finished examples: what a retried task skips, what the progress bar shows.

A worker records each example it finishes (:meth:`Ledger.finish`); a task retried after
its worker died asks which of its examples are already done (:meth:`Ledger.done`) and
runs only the others, so nothing finished is lost or computed twice. The driver follows
:meth:`Ledger.progress` (it returns when the count moves: no polling) and collects the
results at the end.

Example:
    >>> ledger = Ledger(3)
    >>> ledger.finish(1, "result 1", "w1")
    True
    >>> sorted(ledger.done([0, 1, 2]))
    [1]
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = ["Ledger"]


class Ledger:
    """The results of one run's examples, by index; see the module docstring.

    Args:
        total: how many examples the run has.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._results: dict[int, Any] = {}
        self.by_worker: Counter[str] = Counter()
        self._moved = asyncio.Event()

    def finish(self, index: int, result: Any, worker: str) -> bool:
        """Record example ``index``'s result; False if it was finished already (kept)."""
        if index in self._results:
            return False
        self._results[index] = result
        self.by_worker[worker] += 1
        self._moved.set()
        return True

    def done(self, indices: Iterable[int]) -> dict[int, Any]:
        """The results of those of ``indices`` that are finished."""
        return {i: self._results[i] for i in indices if i in self._results}

    async def progress(self, seen: int) -> int:
        """The number finished, once it is more than ``seen`` (or all are)."""
        while len(self._results) <= seen and len(self._results) < self.total:
            self._moved.clear()
            await self._moved.wait()
        return len(self._results)

    def results(self) -> list[Any]:
        """Every result, in index order (``None`` for an example not finished)."""
        return [self._results.get(i) for i in range(self.total)]
