"""``ot.run``: run an executable (or any awaitable) from sync code and return its result.

A run happens on onetwo's runtime loop (``onetwo.core.runtime``) in a copy of the caller's
context (registry, options), alike in a script, a thread and a Jupyter cell (no
``nest_asyncio``), so HTTP clients and rate limits persist across runs. :func:`run_sync`
does the same for a coroutine function. Inside async code, ``await executable``.

Example:
    >>> from onetwo import ot
    >>> @ot.make_executable
    ... def add(a, b):
    ...     return a + b
    >>> ot.run(add(1, 2))
    3
"""

from __future__ import annotations

import contextvars
import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from onetwo.core import options, runtime, tracing

__all__ = ["run", "run_sync"]

T = TypeVar("T")


def run_sync(main: Callable[[], Awaitable[T]], **changes: bool) -> T:
    """Run ``main()`` (an awaitable's factory) on the runtime loop as one run; return its result.

    ``changes`` are :class:`~onetwo.core.options.RunOptions` fields for this run, e.g.
    ``enable_batching=False``; the others keep their current values.
    """
    context = contextvars.copy_context()  # the run's: what it sets stays in it
    options.set_in(context, dataclasses.replace(options.current(), **changes))
    return runtime.submit(main, context=context)


def run(
    executable: Awaitable[T], *, enable_batching: bool = True, enable_tracing: bool = False
) -> Any:
    """Run ``executable`` (or any awaitable: a coroutine, a task) and return its result.

    Args:
        executable: what to run.
        enable_batching: if False, backend batch queues send requests one by one.
        enable_tracing: if True, return ``(result, trace)`` (see ``onetwo.core.tracing``).

    Raises:
        NestedRunError: when called from sync code inside a run; ``await`` there instead.
    """
    if not inspect.isawaitable(executable):
        raise TypeError(
            f"ot.run() needs an Executable, got {type(executable).__name__}: {executable!r:.80}. "
            "Call the builtin or @ot.make_executable function to get one, e.g. "
            "ot.run(llm.generate_text('Hi')); a coroutine or another awaitable works too."
        )

    main = (lambda: tracing.run_traced(executable)) if enable_tracing else (lambda: executable)
    return run_sync(main, enable_batching=enable_batching)
