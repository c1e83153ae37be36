"""``distributed.par_map``: ``ot.par_iter`` over a Ray cluster, for a function and its inputs.

``ot.par_iter`` takes executables, which live in one process; across a cluster what
travels is a picklable function and each input: ``par_map(fn, inputs)`` runs
``fn(input)`` (an executable, a coroutine or a value, run as ``ot.run`` would) for each
input on the workers, with the same backend description, cache and faults as
:func:`~onetwo.distributed.evaluation.evaluate` (which it is built on), and returns the
outputs in input order.

Example:
    >>> outputs = distributed.par_map(  # doctest: +SKIP
    ...     llm.generate_text, ["Q1", "Q2"], backend="openai:gpt-4o-mini", cache="cache/"
    ... )
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from onetwo.distributed.evaluation import evaluate

__all__ = ["par_map"]


def _as_is(value: Any) -> Any:
    return value


def par_map(
    fn: Callable[..., Any],
    inputs: Iterable[Any],
    *,
    return_exceptions: bool = False,
    **options: Any,
) -> list[Any]:
    """``[fn(x) for x in inputs]``, run on the cluster; see the module docstring.

    Args:
        fn: called with each input: a dict as keyword arguments, an ``(args, kwargs)``
            pair as such, anything else as the one positional argument.
        inputs: the inputs (each must pickle).
        return_exceptions: put an input's exception in its place instead of raising the
            first one (as ``ot.par_iter`` does).
        **options: the arguments of ``distributed.evaluate``: ``backend`` (required),
            ``cache``, ``cluster``, ``concurrency``, ``progress``...

    Returns:
        The outputs, in input order.
    """
    summary = evaluate(fn, inputs, inputs_extractor=_as_is, target_extractor=None, **options)
    errors = [r.error for r in summary.results.values() if r.error is not None]
    if errors and not return_exceptions:
        raise errors[0]
    return [r.prediction if r.error is None else r.error for r in summary.results.values()]
