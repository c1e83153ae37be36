"""Executables and the ways to run them, under the module path OneTwo users import.

The names the reference OneTwo has there (``run``, ``parallel``, ``par_iter``, the streams,
``make_executable``...), each the one of ``onetwo.ot``, nothing of its own.

Example:
    >>> from onetwo.core import executing
    >>> @executing.make_executable
    ... def add(a: int, b: int) -> int:
    ...     return a + b
    >>> executing.run(executing.parallel(add(1, 2), add(3, 4)))
    [3, 7]
"""

from onetwo.core.executable import (
    Executable,
    FunctionExecutable,
    coroutines_of,
    make_executable,
    resolve_arguments,
    set_composer,
)
from onetwo.core.running import run
from onetwo.core.scheduling import par_iter, parallel
from onetwo.core.streaming import safe_stream, stream_updates, stream_with_callback

__all__ = [
    "Executable",
    "FunctionExecutable",
    "coroutines_of",
    "make_executable",
    "par_iter",
    "parallel",
    "resolve_arguments",
    "run",
    "safe_stream",
    "set_composer",
    "stream_updates",
    "stream_with_callback",
]
