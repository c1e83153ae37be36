"""Running many executables at once: ``parallel`` and ``par_iter``.

:func:`parallel` runs a fixed set of executables concurrently, :func:`par_iter` those of
an iterable with at most ``chunk_size`` in flight, pulled lazily (from a generator too).
Both are executables; results come in input order.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> questions = ["2+2?", "3+3?"]
    >>> answers = ot.run(ot.par_iter(llm.generate_text(q) for q in questions))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import traceback
from collections.abc import Iterable, Iterator, Sized
from typing import Any

from onetwo.core.executable import Executable

__all__ = ["DEFAULT_CHUNK_SIZE", "par_iter", "parallel", "progress_bar"]

DEFAULT_CHUNK_SIZE = 100


def parallel(
    *executables: Executable[Any], return_exceptions: bool = False
) -> Executable[list[Any]]:
    """Run ``executables`` concurrently; the result is the list of their results, in order.

    Args:
        *executables: the executables to run.
        return_exceptions: if True, a failure is returned in its slot instead of raised
            (and the others keep running). If False, the first failure cancels the rest
            and is raised.
    """
    for e in executables:
        _check_executable(e, "parallel")
    return _Parallel(executables, max(1, len(executables)), return_exceptions, False)


def _check_executable(e: Any, where: str) -> None:
    if not isinstance(e, Executable):
        raise TypeError(
            f"{where}() needs Executables, got {type(e).__name__}: {e!r:.80}. Pass the result "
            "of calling a builtin or an @ot.make_executable function, not the function itself."
        )


@dataclasses.dataclass(eq=False, repr=False, slots=True)
class _ParIter(Executable[list[Any]]):
    iterable: Iterable[Executable[Any]]
    chunk_size: int
    return_exceptions: bool
    progress: bool | str

    def __repr__(self) -> str:
        return f"par_iter(chunk_size={self.chunk_size})"

    async def _run(self) -> list[Any]:
        # A fixed pool of workers pulls items from one shared iterator: at most
        # `chunk_size` items are in flight, and none is created before a worker is free.
        iterator: Iterator[Executable[Any]] = iter(self.iterable)
        results: list[Any] = []
        failure: list[BaseException] = []
        return_exceptions = self.return_exceptions
        size = len(self.iterable) if isinstance(self.iterable, Sized) else None
        bar = progress_bar(self.progress, size)

        async def worker() -> None:
            for item in iterator:  # shared: each item goes to exactly one worker
                index = len(results)
                results.append(None)
                if failure:
                    return
                _check_executable(item, "par_iter")
                try:
                    running = item._run()
                    # Keep only the coroutine while it is pending: the executable (and its
                    # arguments) is garbage as soon as the call has started.
                    item = None  # type: ignore[assignment]
                    results[index] = await running
                except Exception as e:
                    if not return_exceptions:
                        failure.append(e)
                        raise
                    # A copy of the error keeps its traceback (as OneTwo's does) in a note.
                    e.add_note("".join(traceback.format_tb(e.__traceback__)))
                    results[index] = e
                if bar is not None:
                    bar.update()

        n_workers = self.chunk_size if size is None else max(1, min(self.chunk_size, size))
        tasks = [asyncio.ensure_future(worker()) for _ in range(n_workers)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # unlike plain gather: the failure cancels the other workers
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            if bar is not None:
                bar.close()
        return results


class _Parallel(_ParIter):
    """``par_iter`` with every executable in flight at once."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"parallel(<{len(self.iterable)} executables>)"  # type: ignore[arg-type]


def progress_bar(progress: bool | str, total: int | None, label: str | None = None) -> Any:
    """A progress bar of ``total`` steps (``progress`` a string: its label), or None.

    A notebook widget (``tqdm.auto``) where ipywidgets is installed, else a text bar:
    without it, ``tqdm.auto`` in Jupyter warns "IProgress not found" to the reader.
    """
    if not progress:
        return None
    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(total=total, desc=progress if isinstance(progress, str) else label)


def par_iter(
    iterable: Iterable[Executable[Any]],
    chunk_size: int | None = None,
    return_exceptions: bool = False,
    *,
    progress: bool | str = False,
) -> Executable[list[Any]]:
    """Run the executables of ``iterable``, ``chunk_size`` at most in flight; results in order.

    Args:
        iterable: executables (a list, or a generator consumed lazily).
        chunk_size: the maximum number in flight (default 100).
        return_exceptions: if True, a failed item's exception is its result; otherwise the
            first failure stops the run and is raised.
        progress: show a progress bar (a string is used as its label).
    """
    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}.")
    if isinstance(iterable, Executable):
        raise TypeError(
            "par_iter() needs an iterable of Executables, got a single Executable. "
            "Wrap it in a list, or use ot.repeat(executable, n) for n samples."
        )
    return _ParIter(iterable, chunk_size, return_exceptions, progress)
