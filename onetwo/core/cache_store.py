"""Where the call cache keeps its records: the :class:`Store` protocol and two stores.

A store maps a :data:`~onetwo.core.cache_record.Key` to the text of its record and knows
nothing of what the text means; ``CallCache`` is built on one. :class:`DiskStore` is a
diskcache folder that several threads and processes may share; :class:`MemoryStore` is a
dict (for ``SimpleFunctionCache`` and tests). Every change is :meth:`Store.update`, one
atomic read-modify-write (one SQLite transaction on disk: a killed process leaves all of
it or none).

Example:
    >>> from onetwo.core.cache_record import key_of
    >>> store = MemoryStore()
    >>> store.update(key_of("{}"), lambda old: "new text")
    >>> store.read(key_of("{}"))
    'new text'

The folder is opened safely: nothing is ever unpickled (diskcache's default ``Disk``
pickles what is not str/bytes/numbers), nothing is written or deleted next to the database
(a tampered ``filename`` column cannot reach another file), and the ``Settings`` table,
which diskcache replays as PRAGMAs, is checked before diskcache opens the folder.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import diskcache
import diskcache.core

from onetwo.core.cache_record import Key
from onetwo.errors import CacheError

__all__ = ["DiskStore", "MemoryStore", "Store"]

FORMAT = "onetwo-call-cache/2"
_FORMAT_KEY = "onetwo:format"  # the folder's only row that is not a record (str key)


class Store(Protocol):
    """What ``CallCache`` needs from a store of record texts."""

    directory: str | None  # the folder, or None in memory

    def read(self, key: Key) -> str | None:
        """The record text at ``key`` (``None`` if absent): the replay hot path."""

    def update(self, key: Key, change: Callable[[str | None], str | None]) -> None:
        """Replace the text at ``key`` by ``change(current text)``, atomically.

        ``change`` gets ``None`` if there is none, and returns ``None`` to leave it.
        """

    def delete(self, keys: Iterable[Key]) -> None:
        """Delete these records, at once."""

    def items(self) -> Iterator[tuple[Key, str]]:
        """Every record, in the order they were first written."""

    def __len__(self) -> int:
        """How many records."""

    def volume(self) -> int:
        """Bytes used."""

    def check(self, fix: bool) -> list[str]:
        """The problems of the storage itself (not of the records); ``fix`` repairs."""

    def close(self) -> None:
        """Release connections (reopened on use)."""


class MemoryStore:
    """A :class:`Store` in a dict, guarded by a lock."""

    directory: str | None = None

    def __init__(self) -> None:
        self._data: dict[Key, str] = {}
        self._lock = threading.Lock()

    def read(self, key: Key) -> str | None:
        return self._data.get(key)

    def update(self, key: Key, change: Callable[[str | None], str | None]) -> None:
        with self._lock:
            if (new := change(self._data.get(key))) is not None:
                self._data[key] = new

    def delete(self, keys: Iterable[Key]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def items(self) -> Iterator[tuple[Key, str]]:
        with self._lock:
            return iter(list(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)

    def volume(self) -> int:
        return sum(len(k) + len(v.encode()) for k, v in self._data.items())

    def check(self, fix: bool) -> list[str]:
        return []

    def close(self) -> None:
        pass


# Settings imposed on every open: nothing evicted or expired, no tag index, our pragmas.
_SETTINGS: dict[str, Any] = {
    "eviction_policy": "none",
    "size_limit": 2**62,
    "cull_limit": 0,
    "statistics": 0,
    "tag_index": 0,
    "sqlite_journal_mode": "wal",
    # NORMAL in WAL mode: a killed process loses no committed write (only a power cut
    # may lose the last ones), at a fraction of FULL's fsync cost.
    "sqlite_synchronous": 1,
    "sqlite_auto_vacuum": 1,
    "sqlite_cache_size": 2**13,
    "sqlite_mmap_size": 2**26,
}
_KNOWN_SETTINGS = frozenset(diskcache.core.DEFAULT_SETTINGS) | frozenset(diskcache.core.METADATA)
_RAW = diskcache.core.MODE_RAW
# The hot path's lean query (diskcache's ``get`` costs ~40% more per hit in Python).
_READ = "SELECT mode, value FROM Cache WHERE key = ? AND raw = 1"
_ITEMS = f"SELECT key, raw, mode, value FROM Cache WHERE key <> '{_FORMAT_KEY}' ORDER BY rowid"
_COUNT = f"SELECT COUNT(*) FROM Cache WHERE key <> '{_FORMAT_KEY}'"
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation  # a forked child must not share the parent's connections
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def _foreign(what: str) -> CacheError:
    return CacheError(
        f"the cache folder holds {what}, which onetwo never writes; refusing to load it "
        "(it may have been tampered with). Use a folder written by onetwo's call cache."
    )


class _SafeDisk(diskcache.Disk):
    """A diskcache ``Disk`` for str/bytes keys and str values: no pickle, no side files."""

    def __init__(self, directory: str, **_settings: Any) -> None:
        super().__init__(directory)

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) not in (str, bytes):
            raise TypeError(f"cache keys are str or bytes, got {type(key).__name__}.")
        return key, True

    def get(self, key: Any, raw: bool) -> Any:
        if not raw or type(key) not in (str, bytes):
            raise _foreign("a pickled key")
        return key

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if read or type(value) is not str:
            raise TypeError(f"cache values are str, got {type(value).__name__}.")
        return 0, _RAW, None, value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        return _text(mode, value)

    def remove(self, file_path: str) -> bool:
        return False  # we never create files; never delete one a row points to

    def filename(self, key: Any = None, value: Any = None) -> tuple[str, str]:
        raise TypeError("the onetwo call cache keeps every value in SQLite.")


def _text(mode: int, value: Any) -> str:
    if mode != _RAW or type(value) is not str:
        raise _foreign("a pickled or file-backed value")
    return value


class DiskStore:
    """A :class:`Store` in a diskcache folder (``cache.db``, SQLite in WAL mode).

    Writes go through diskcache (transactions retried while another process writes);
    reads through a lean read-only connection per thread (new after a fork).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory: str | None = os.fspath(directory)
        path = self.directory
        if os.path.exists(path) and not os.path.isdir(path):
            raise CacheError(f"the cache folder {path!r} is a file; give a folder path.")
        fresh = _inspect(path, os.path.join(path, diskcache.core.DBNAME))
        self._readers = threading.local()
        try:
            self._db = diskcache.Cache(path, disk=_SafeDisk, **_SETTINGS)
        except sqlite3.DatabaseError as e:
            raise CacheError(f"cannot open the cache folder {path!r}: {e}.") from e
        if fresh:
            self._db.set(_FORMAT_KEY, FORMAT, retry=True)

    def read(self, key: Key) -> str | None:
        state = getattr(self._readers, "state", None)
        if state is None or state[0] != _fork_generation:
            state = self._reader()
        row = state[2](_READ, (key,)).fetchone()  # one cursor, reused: ~10% faster
        if row is None:
            return None
        if row[0] != _RAW or type(row[1]) is not str:
            raise _foreign("a pickled or file-backed value")
        return row[1]

    def update(self, key: Key, change: Callable[[str | None], str | None]) -> None:
        db = self._db
        with db.transact(retry=True):
            if (new := change(db.get(key, retry=True))) is not None:
                db.set(key, new, retry=True)

    def delete(self, keys: Iterable[Key]) -> None:
        with self._db.transact(retry=True):
            for key in keys:
                self._db.delete(key, retry=True)

    def items(self) -> Iterator[tuple[Key, str]]:
        for key, raw, mode, value in self._reader()[1].execute(_ITEMS):
            if raw != 1 or type(key) is not str:
                raise _foreign("a pickled key")
            yield Key(key), _text(mode, value)

    def __len__(self) -> int:
        return int(self._reader()[1].execute(_COUNT).fetchone()[0])

    def volume(self) -> int:
        return int(self._db.volume())

    def check(self, fix: bool) -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # diskcache reports problems as warnings
            return [str(w.message) for w in self._db.check(fix=fix, retry=True)]

    def _reader(self) -> tuple[int, sqlite3.Connection, Callable[..., sqlite3.Cursor]]:
        """This thread's read-only connection (a new one after a fork), and a cursor's execute."""
        state = getattr(self._readers, "state", None)
        if state is not None and state[0] == _fork_generation:
            return state
        assert self.directory is not None
        con = sqlite3.connect(
            os.path.join(self.directory, diskcache.core.DBNAME),
            timeout=self._db.timeout,
            isolation_level=None,
            check_same_thread=True,
        )
        con.execute(f"PRAGMA mmap_size = {int(_SETTINGS['sqlite_mmap_size'])}")
        con.execute(f"PRAGMA cache_size = {int(_SETTINGS['sqlite_cache_size'])}")
        con.execute("PRAGMA query_only = 1")
        self._readers.con = con
        self._readers.state = state = (_fork_generation, con, con.cursor().execute)
        return state

    def close(self) -> None:
        con = getattr(self._readers, "con", None)
        if con is not None:
            con.close()
            del self._readers.con, self._readers.state
        self._db.close()


def _inspect(folder: str, db_path: str) -> bool:
    """Refuse a folder onetwo did not write, before diskcache rewrites its settings.

    Returns whether the folder is new (no database, or an empty one).
    """
    if not os.path.exists(db_path):
        return True
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            settings = con.execute("SELECT key, value FROM Settings").fetchall()
            fmt = con.execute("SELECT value FROM Cache WHERE key = ?", (_FORMAT_KEY,)).fetchone()
            rows = con.execute("SELECT COUNT(*) FROM Cache").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        if "no such table" in str(e):
            return True
        raise CacheError(f"the cache database {db_path!r} is not readable: {e}.") from e
    for key, value in settings:
        if key not in _KNOWN_SETTINGS or not isinstance(value, int | float | str):
            raise _foreign(f"an unknown setting {key!r}")
        if isinstance(value, str) and not value.replace("-", "").isalnum():
            raise _foreign(f"a suspicious value for the setting {key!r}")
    if fmt is None and rows:
        raise CacheError(
            f"{folder!r} holds a diskcache that the onetwo call cache did not write; give "
            "the call cache a folder of its own."
        )
    if fmt is not None and fmt[0] != FORMAT:
        raise CacheError(
            f"the cache folder {folder!r} has the format {fmt[0]!r}, and this onetwo reads "
            f"{FORMAT!r}. Open it with the onetwo version that wrote it and save it with "
            "export_jsonl(); import_jsonl() reads that file here."
        )
    return fmt is None
