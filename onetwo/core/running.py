"""``ot.run``: run an executable (or any awaitable) from sync code and return its result.

The run happens on onetwo's runtime loop (see ``onetwo.core.syncrun``), so HTTP clients
and rate limits persist from one run to the next. Inside async code, ``await executable``.

Example:
    >>> from onetwo import ot
    >>> @ot.make_executable
    ... def add(a, b):
    ...     return a + b
    >>> ot.run(add(1, 2))
    3
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any, TypeVar

from onetwo.core.syncrun import run_sync

__all__ = ["run"]

T = TypeVar("T")


def run(
    executable: Awaitable[T], *, enable_batching: bool = True, enable_tracing: bool = False
) -> Any:
    """Run ``executable`` (or any awaitable: a coroutine, a task) and return its result.

    Args:
        executable: what to run.
        enable_batching: if False, backend batch queues send requests one by one.
        enable_tracing: if True, return ``(result, trace)`` where ``trace`` records every
            traced call (see ``onetwo.core.tracing``).

    Raises:
        NestedRunError: when called from sync code inside a run; ``await`` there instead.
    """
    if not inspect.isawaitable(executable):
        raise TypeError(
            f"ot.run() needs an Executable, got {type(executable).__name__}: {executable!r:.80}. "
            "Call the builtin or @ot.make_executable function to get one, e.g. "
            "ot.run(llm.generate_text('Hi')); a coroutine or another awaitable works too."
        )

    async def main() -> Any:
        if enable_tracing:
            from onetwo.core import tracing

            return await tracing.run_traced(executable)
        return await executable

    return run_sync(main, enable_batching=enable_batching, enable_tracing=enable_tracing)
