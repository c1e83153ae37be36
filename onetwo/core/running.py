"""``ot.run``: run an executable from synchronous code and return its result.

Example:
    >>> from onetwo import ot
    >>> @ot.make_executable
    ... def add(a, b):
    ...     return a + b
    >>> ot.run(add(1, 2))
    3

Inside async code, ``await executable`` instead.
"""

from __future__ import annotations

from typing import Any, TypeVar

from onetwo.core import batching
from onetwo.core.executing import Executable
from onetwo.core.syncrun import run_sync

__all__ = ["run"]

T = TypeVar("T")


def run(
    executable: Executable[T], *, enable_batching: bool = True, enable_tracing: bool = False
) -> Any:
    """Run ``executable`` to completion and return its result.

    Works in scripts and inside Jupyter/Colab (where a loop is already running: the run
    happens on a fresh loop in a worker thread, with the caller's registry and options).

    Args:
        executable: what to run.
        enable_batching: if False, backend batch queues send requests one by one.
        enable_tracing: if True, return ``(result, trace)`` where ``trace`` records every
            traced call (see ``onetwo.core.tracing``).
    """
    if not isinstance(executable, Executable):
        raise TypeError(
            f"ot.run() needs an Executable, got {type(executable).__name__}: {executable!r:.80}. "
            "Call the builtin or @ot.make_executable function to get one, e.g. "
            "ot.run(llm.generate_text('Hi'))."
        )

    async def main() -> Any:
        batching.batching_enabled.set(enable_batching)
        if enable_tracing:
            from onetwo.core import tracing

            return await tracing.run_traced(executable)
        return await executable

    return run_sync(main)
