"""Run a coroutine from synchronous code: the sync face of the runtime.

:func:`run_sync` runs ``main()`` on onetwo's runtime loop (``onetwo.core.runtime``) in a
copy of the caller's context (registry, options) and blocks until it is done, the same in
a script, a thread and a Jupyter cell (whose own loop keeps running; no ``nest_asyncio``).

Example:
    >>> async def answer() -> int:
    ...     return 42
    >>> run_sync(answer, enable_batching=False)
    42
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from onetwo.core import options, runtime

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(main: Callable[[], Awaitable[T]], **changes: bool) -> T:
    """Run ``main()`` on the runtime loop as one run, and return its result.

    Args:
        main: a zero-argument callable returning the awaitable to run.
        **changes: :class:`~onetwo.core.options.RunOptions` fields for this run, e.g.
            ``enable_batching=False``; the others keep their current values.
    """
    run_options = dataclasses.replace(options.current(), **changes)

    async def with_options() -> T:
        with options.use(run_options):
            return await main()

    return runtime.submit(with_options, context=contextvars.copy_context())
