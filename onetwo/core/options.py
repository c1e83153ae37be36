"""Run options: how one run behaves (batching on or off), set in one place.

A :class:`RunOptions` travels with the run in a context variable: ``ot.run``,
``ot.evaluate``, ``ot.compare`` and the streams set it for their run; the batch queues
(and nested work) read it with :func:`current`.

Example:
    >>> with use(RunOptions(enable_batching=False)):
    ...     current().enable_batching
    False
    >>> current().enable_batching
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from contextvars import Context, ContextVar

__all__ = ["RunOptions", "current", "set_in", "use"]


@dataclasses.dataclass(frozen=True, slots=True)
class RunOptions:
    """The options of one run.

    Attributes:
        enable_batching: if False, batch queues send each request on its own.

    (Tracing is not an option here: ``ot.run(..., enable_tracing=True)`` records the run's
    trace under a root it returns, ``onetwo.core.tracing.run_traced``.)
    """

    enable_batching: bool = True

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # not asdict: it deep-copies, on every run
            value = getattr(self, field.name)
            if not isinstance(value, bool):
                raise TypeError(
                    f"RunOptions.{field.name} must be True or False, got "
                    f"{type(value).__name__} {value!r}."
                )


# RunOptions is frozen, so one shared default is safe.
_current: ContextVar[RunOptions] = ContextVar("onetwo_run_options", default=RunOptions())  # noqa: B039


def current() -> RunOptions:
    """The options of the run this code is part of (the defaults outside any run)."""
    return _current.get()


def set_in(context: Context, options: RunOptions) -> None:
    """Make ``options`` the current options in ``context`` (e.g. a run's copied context)."""
    context.run(_current.set, options)


@contextlib.contextmanager
def use(options: RunOptions) -> Iterator[RunOptions]:
    """Make ``options`` the current options inside the ``with`` block."""
    token = _current.set(options)
    try:
        yield options
    finally:
        _current.reset(token)
