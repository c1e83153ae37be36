"""Independent samples: ``repeat``, the sampling key, samplers.

``repeat(e, n)`` is ``n`` independent copies of ``e``; copy ``i`` runs under the *sampling
key* ``"i"`` (copy 5 inside copy 3: ``"3#5"``), which the cache gives its own sample, the
same on replay in any order. The samplers :class:`Repeated` and :class:`RoundRobin` draw
samples of a strategy.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> copies = ot.repeat(llm.generate_text("Name a color:"), 3)
    >>> answers = ot.run(ot.parallel(*copies))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from onetwo.core.executable import Executable, make_executable
from onetwo.core.scheduling import parallel

__all__ = [
    "Repeated",
    "RoundRobin",
    "current_sampling_key",
    "repeat",
    "repeat_and_execute",
    "sampling_key",
    "under_sampling_key",
]

T = TypeVar("T")
_sampling_key: ContextVar[str] = ContextVar("onetwo_sampling_key", default="")  # "": no repeat


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


@make_executable("executable")
async def _sample(executable: Executable[T], index: int, position: int, update: Any) -> T:
    # Copy `index` made by `repeat`: the executable, under its own sampling key.
    with under_sampling_key(sampling_key(index)):
        result = await executable
    return result if update is None else update(result, position)


def repeat(
    executable: Executable[T],
    num_repeats: int,
    update_result_fn: Callable[[T, int], T] | None = None,
    start_index: int = 0,
) -> list[Executable[T]]:
    """``num_repeats`` independent copies of ``executable``, to run with ``ot.parallel``.

    Args:
        executable: what to repeat. It is not copied: each copy runs it afresh under its
            own sampling key, ``start_index``, ``start_index + 1``...
        num_repeats: how many copies (>= 0).
        update_result_fn: applied to each copy's result with the copy's position in the
            list (from 0), e.g. to tag it; the copy's result is what it returns.
        start_index: the first sampling key; ask for samples 3 to 5 with
            ``repeat(e, 3, start_index=3)`` after ``repeat(e, 3)``.

    Example:
        >>> samples = ot.run(ot.parallel(*ot.repeat(llm.generate_text(p), 3)))  # doctest: +SKIP
    """
    if not isinstance(executable, Executable):
        raise TypeError(
            f"repeat() needs an Executable, got {type(executable).__name__}: {executable!r}. "
            "Call the builtin or @ot.make_executable function first, e.g. "
            "ot.repeat(llm.generate_text(prompt), 3)."
        )
    for name, value in (("num_repeats", num_repeats), ("start_index", start_index)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}.")
    return [_sample(executable, start_index + i, i, update_result_fn) for i in range(num_repeats)]


def repeat_and_execute(
    executable: Executable[T],
    num_repeats: int,
    update_result_fn: Callable[[T, int], T] | None = None,
) -> Executable[list[T]]:
    """One executable running the copies of :func:`repeat`; its result is their list."""
    return parallel(*repeat(executable, num_repeats, update_result_fn))


@dataclasses.dataclass
class Repeated(Generic[T]):
    """A sampler: ``Repeated(strategy)(*args, num_samples=n)`` gives ``n`` samples.

    They are :func:`repeat` copies of ``strategy(*args, **kwargs)`` from ``start_index``.

    Attributes:
        inner: the strategy: a callable returning an executable (a builtin, an
            ``@ot.make_executable`` function, an agent).
    """

    inner: Callable[..., Executable[T]]

    @make_executable(copy_self=False)
    async def __call__(
        self, *args: Any, num_samples: int = 1, start_index: int = 0, **kwargs: Any
    ) -> list[T]:
        return await parallel(*repeat(self.inner(*args, **kwargs), num_samples, None, start_index))


@dataclasses.dataclass
class RoundRobin(Generic[T]):
    """A sampler taking its samples from several samplers in turn, for diverse samples.

    Sample ``i`` (sampling key ``i``, from ``start_index``) comes from ``inner[i % len(inner)]``.

    Attributes:
        inner: the samplers, e.g. :class:`Repeated` ones, called with the same arguments.
    """

    inner: Sequence[Callable[..., Executable[list[T]]]]

    @make_executable(copy_self=False)
    async def __call__(
        self, *args: Any, num_samples: int = 1, start_index: int = 0, **kwargs: Any
    ) -> list[T]:
        turns = [
            self.inner[i % len(self.inner)](*args, num_samples=1, start_index=i, **kwargs)
            for i in range(start_index, start_index + num_samples)
        ]
        batches = await parallel(*turns)
        return [sample for batch in batches for sample in batch]
