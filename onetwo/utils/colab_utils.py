"""``CachedBackends``: the reference notebooks' way to keep one cache per backend.

A OneTwo notebook builds its backends with ``cache=...get_cache_path(name)``, files them in
a ``CachedBackends`` mapping, and calls ``load_caches()`` / ``save_caches()``. Here a
backend's cache is a :class:`~onetwo.core.caching.CallCache` folder written through on
every call, so nothing is lost between saves and ``save_caches()`` has nothing to write;
``load_caches()`` merges the same backend's folders from the shared and additional
directories into its own cache (the notebook's "team cache").

Example:
    >>> from onetwo.backends.fake import FakeBackend
    >>> from onetwo.utils import colab_utils
    >>> cached = colab_utils.CachedBackends(own_cache_directory="/tmp/my_caches")  # doctest: +SKIP
    >>> cached["fake"] = FakeBackend(cache=cached.get_cache_path("fake"))  # doctest: +SKIP
    >>> cached.load_caches()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections import UserDict
from collections.abc import Iterator, Sequence
from typing import Any

from onetwo.core.caching import CallCache

__all__ = ["CachedBackends"]


@dataclasses.dataclass(kw_only=True)
class CachedBackends(UserDict[str, Any]):
    """Backends by name, each with its cache folder under ``own_cache_directory``.

    Attributes:
        own_cache_directory: where each backend's folder lives (``<dir>/<name>``).
        shared_cache_directory: a teammate's directory of the same layout, merged in by
            :meth:`load_caches` (read only).
        additional_cache_directories: more directories merged in the same way.
        enable_print_statements: print what loading and saving did.
        data: the backends by name, the mapping itself (as in ``collections.UserDict``).
    """

    own_cache_directory: str
    shared_cache_directory: str | None = None
    additional_cache_directories: Sequence[str] | None = None
    enable_print_statements: bool = True
    data: dict[str, Any] = dataclasses.field(default_factory=dict, init=False, repr=False)

    def get_cache_path(self, backend_name: str) -> str:
        """The cache folder of the backend filed as ``backend_name``."""
        return os.path.join(self.own_cache_directory, backend_name)

    def _caches(self) -> Iterator[tuple[str, CallCache]]:
        for name, backend in self.data.items():
            cache = getattr(backend, "cache", None)
            if isinstance(cache, CallCache):
                yield name, cache

    def _print(self, text: str) -> None:
        if self.enable_print_statements:
            print(text)

    def load_caches(self, *, overwrite: bool = True) -> None:
        """Merge each backend's folder from the shared and additional directories.

        Args:
            overwrite: accepted for compatibility; a merge adds samples and never replaces
                a value this cache already holds (both are exact records of real calls).
        """
        del overwrite
        sources = [self.shared_cache_directory, *(self.additional_cache_directories or ())]
        for name, cache in self._caches():
            merged = 0
            for directory in filter(None, sources):
                folder = os.path.join(directory, name)
                if os.path.isdir(folder) and os.path.abspath(folder) != cache.directory:
                    merged += _merge(folder, into=cache)
            self._print(f"{name}: {cache.stats()['entries']} entries ({merged} merged).")

    def save_caches(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to write: every call was stored in its backend's folder as it finished."""
        del args, kwargs
        for name, cache in self._caches():
            self._print(f"{name}: {cache.stats()['entries']} entries, written through to disk.")

    def print_cache_summary(self) -> None:
        """Print each backend's cache counters (hits, misses, entries, bytes...)."""
        for name, cache in self._caches():
            print(f"{name}: {cache.stats()}")

    def clear_all_calls_in_progress(self) -> None:
        """Nothing to clear: an unfinished call is never stored, so none is left behind."""


def _merge(folder: str, *, into: CallCache) -> int:
    source = CallCache(folder, mode="replay")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "export.jsonl")
            source.export_jsonl(path)
            return into.import_jsonl(path)
    finally:
        source.close()
