"""Where the call cache keeps its entries: a diskcache folder, or a dict.

Package-private helper of ``onetwo.core.caching``. Both stores hold ``str`` keys and
``str``/``int`` values only, with an optional tag, and offer the same small interface
(``get``, ``set``, ``delete``, ``incr``, ``transact``, ``evict``, ``iterkeys``, ``volume``,
``check``, ``close``), which is a subset of ``diskcache.Cache``'s.

A diskcache folder is opened with :class:`SafeDisk`, which refuses to unpickle anything
(diskcache's default ``Disk`` pickles values and keys that are not str/bytes/numbers)
and never writes or deletes files next to the database, so a tampered ``filename``
column cannot make it read or remove a file elsewhere. Every value lives in SQLite
(WAL journal): a write is one transaction, and a killed process leaves either the whole
write or none of it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import diskcache
import diskcache.core

from onetwo.errors import CacheError

__all__ = ["DiskStore", "MemoryStore", "SafeDisk", "open_disk_store"]

# Settings we impose on every open: nothing is ever evicted or expired, and the
# connection pragmas are ours, not whatever a shared folder's Settings table says.
_SETTINGS: dict[str, Any] = {
    "eviction_policy": "none",
    "size_limit": 2**62,
    "cull_limit": 0,
    "statistics": 0,
    "tag_index": 1,
    "sqlite_journal_mode": "wal",
    # NORMAL in WAL mode: a killed process loses no committed write (only a power cut
    # may lose the last ones), at a fraction of FULL's fsync cost.
    "sqlite_synchronous": 1,
    "sqlite_auto_vacuum": 1,
    "sqlite_cache_size": 2**13,
    "sqlite_mmap_size": 2**26,
}
_KNOWN_SETTINGS = frozenset(diskcache.core.DEFAULT_SETTINGS) | frozenset(diskcache.core.METADATA)


def _foreign(what: str) -> CacheError:
    return CacheError(
        f"the cache folder holds {what}, which onetwo never writes; refusing to load it "
        "(it may have been tampered with). Use a folder written by onetwo's call cache."
    )


class SafeDisk(diskcache.Disk):
    """A diskcache ``Disk`` for str keys and str/int values: no pickle, no side files."""

    def __init__(self, directory: str, **_settings: Any) -> None:
        super().__init__(directory)

    def put(self, key: Any) -> tuple[str, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys are str, got {type(key).__name__}.")
        return key, True

    def get(self, key: Any, raw: bool) -> str:
        if not raw or type(key) is not str:
            raise _foreign("a pickled key")
        return key

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if read or type(value) not in (str, int):
            raise TypeError(f"cache values are str or int, got {type(value).__name__}.")
        return 0, diskcache.core.MODE_RAW, None, value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode != diskcache.core.MODE_RAW or type(value) not in (str, int):
            raise _foreign("a pickled or file-backed value")
        return value

    def remove(self, file_path: str) -> bool:
        return False  # we never create files; never delete one a row points to

    def filename(self, key: Any = None, value: Any = None) -> tuple[str, str]:
        raise TypeError("the onetwo call cache keeps every value in SQLite.")


# The replay hot path reads values with its own lean query (diskcache's ``get`` costs
# ~40% more per hit in Python); writes, transactions and maintenance go through diskcache.
_READ = "SELECT mode, value FROM Cache WHERE key = ? AND raw = 1"
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation  # a forked child must not share the parent's connections
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class DiskStore(diskcache.Cache):
    """``diskcache.Cache`` with :class:`SafeDisk`, plus :meth:`read` for the hot path."""

    def __init__(self, directory: str, **settings: Any) -> None:
        self._readers = threading.local()  # before diskcache's __init__, which calls close()
        super().__init__(directory, disk=SafeDisk, **settings)

    def read(self, key: str) -> str | None:
        """The str value of ``key``, or ``None``: ``get`` without diskcache's layers."""
        try:
            generation, execute = self._readers.state
            if generation != _fork_generation:
                raise AttributeError
        except AttributeError:
            execute = self._connect_reader()
        row = execute(_READ, (key,)).fetchone()
        if row is None:
            return None
        if row[0] != diskcache.core.MODE_RAW or type(row[1]) is not str:
            raise _foreign("a pickled or file-backed value")
        return row[1]

    def _connect_reader(self) -> Any:
        con = sqlite3.connect(
            os.path.join(self.directory, diskcache.core.DBNAME),
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=True,
        )
        con.execute(f"PRAGMA mmap_size = {int(_SETTINGS['sqlite_mmap_size'])}")
        con.execute(f"PRAGMA cache_size = {int(_SETTINGS['sqlite_cache_size'])}")
        con.execute("PRAGMA query_only = 1")
        self._readers.state = (_fork_generation, con.execute)
        self._readers.con = con
        return con.execute

    def close(self) -> None:
        con = getattr(self._readers, "con", None)
        if con is not None:
            con.close()
            del self._readers.con, self._readers.state
        super().close()


def open_disk_store(directory: str | os.PathLike[str]) -> DiskStore:
    """Open (or create) the diskcache database in ``directory`` with :class:`SafeDisk`."""
    path = os.fspath(directory)
    if os.path.exists(path) and not os.path.isdir(path):
        raise CacheError(f"the cache folder {path!r} is a file; give a folder path.")
    _check_settings(os.path.join(path, diskcache.core.DBNAME))
    try:
        return DiskStore(path, **_SETTINGS)
    except sqlite3.DatabaseError as e:
        raise CacheError(f"cannot open the cache folder {path!r}: {e}.") from e


def _check_settings(db_path: str) -> None:
    # diskcache replays the Settings table as PRAGMAs when it connects: look first.
    if not os.path.exists(db_path):
        return
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT key, value FROM Settings").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        if "no such table" in str(e):
            return
        raise CacheError(f"the cache database {db_path!r} is not readable: {e}.") from e
    for key, value in rows:
        if key not in _KNOWN_SETTINGS or not isinstance(value, int | float | str):
            raise _foreign(f"an unknown setting {key!r}")
        if isinstance(value, str) and not value.replace("-", "").isalnum():
            raise _foreign(f"a suspicious value for the setting {key!r}")


class MemoryStore:
    """The same interface over a dict, for in-memory caches (``SimpleFunctionCache``)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str | int, str | None]] = {}
        self._lock = threading.RLock()

    def get(self, key: str, default: Any = None) -> Any:
        item = self._data.get(key)
        return default if item is None else item[0]

    def read(self, key: str) -> str | None:
        item = self._data.get(key)
        return None if item is None else item[0]  # type: ignore[return-value]

    def set(self, key: str, value: str | int, tag: str | None = None, retry: bool = False) -> bool:
        with self._lock:
            self._data[key] = (value, tag)
        return True

    def delete(self, key: str, retry: bool = False) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def incr(self, key: str, delta: int = 1, default: int = 0, retry: bool = False) -> int:
        with self._lock:
            value, tag = self._data.get(key, (default, None))
            assert isinstance(value, int)
            self._data[key] = (value + delta, tag)
            return value + delta

    def transact(self, retry: bool = False) -> AbstractContextManager[Any]:
        return self._lock

    def evict(self, tag: str, retry: bool = False) -> int:
        with self._lock:
            doomed = [k for k, (_, t) in self._data.items() if t == tag]
            for k in doomed:
                del self._data[k]
            return len(doomed)

    def iterkeys(self) -> Iterator[str]:
        with self._lock:
            keys = sorted(self._data)
        return iter(keys)

    def volume(self) -> int:
        return sum(len(k) + len(str(v)) for k, (v, _) in self._data.items())

    def check(self, fix: bool = False, retry: bool = False) -> list[Any]:
        return []

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._data)
