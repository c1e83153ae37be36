"""Where the call cache keeps its records: the :class:`Store` protocol and two stores.

A store maps a :data:`~onetwo.core.cache_record.Key` to its record's text, which it does
not read; ``CallCache`` is built on one. :class:`DiskStore` is a diskcache folder shared by
threads and processes, :class:`MemoryStore` a dict. Every change is one atomic
:meth:`Store.update` (one SQLite transaction: a killed process leaves all of it or none).

Example:
    >>> store = MemoryStore()
    >>> store.update(Key("k"), lambda old: "text")
    >>> store.read(Key("k"))
    'text'

A folder is opened safely: nothing unpickled, no file made or deleted beside the database,
the ``Settings`` table (replayed as PRAGMAs) checked before diskcache opens it; damage is a
``CacheError``, never an ``sqlite3`` error. ``onetwo:`` rows (format, blobs, the processes
that opened the folder) are not records.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import diskcache
import diskcache.core

from onetwo.core.cache_record import Key, damaged, sealed
from onetwo.core.clock import SYSTEM_CLOCK
from onetwo.errors import CacheError

__all__ = ["DiskStore", "MemoryStore", "Store", "alive"]

FORMAT = "onetwo-call-cache/3"
_UNSEALED = "onetwo-call-cache/2"  # the same records without checksums: sealed on open
_FORMAT_KEY = "onetwo:format"
_INTERNAL = "onetwo:"  # the prefix of the rows that are not records


class Store(Protocol):
    """What ``CallCache`` needs from a store of record texts.

    ``update(key, change)`` sets the text at ``key`` to ``change(its text or None)`` atomically
    (``None``: leave it, ``""``: delete it); ``items`` lists records in the order written;
    ``shared``: whether another process (or store object) may write the same records.
    """

    directory: str | None  # the folder, or None in memory

    def read(self, key: Key) -> str | None: ...
    def update(self, key: Key, change: Callable[[str | None], str | None]) -> None: ...
    def delete(self, keys: Iterable[Key]) -> None: ...
    def items(self) -> Iterator[tuple[Key, str]]: ...
    def __len__(self) -> int: ...
    def volume(self) -> int: ...
    def check(self, fix: bool) -> list[str]: ...
    def shared(self) -> bool: ...
    def close(self) -> None: ...


class MemoryStore:
    """A :class:`Store` in a dict, guarded by a lock."""

    directory: str | None = None

    def __init__(self) -> None:
        self._data: dict[Key, str] = {}
        self._lock = threading.Lock()
        self._records = 0  # the keys not internal: len() in O(1)

    def read(self, key: Key) -> str | None:
        return self._data.get(key)

    def __len__(self) -> int:
        return self._records

    def update(self, key: Key, change: Callable[[str | None], str | None]) -> None:
        with self._lock:
            old = self._data.get(key)
            if (new := change(old)) == "":
                self._data.pop(key, None)
            elif new is not None:
                self._data[key] = new
            if not key.startswith(_INTERNAL):
                self._records += (key in self._data) - (old is not None)

    def delete(self, keys: Iterable[Key]) -> None:
        with self._lock:
            for key in keys:
                if self._data.pop(key, None) is not None and not key.startswith(_INTERNAL):
                    self._records -= 1

    def items(self) -> Iterator[tuple[Key, str]]:
        with self._lock:
            return iter([(k, v) for k, v in self._data.items() if not k.startswith(_INTERNAL)])

    def volume(self) -> int:
        return sum(len(k) + len(v.encode()) for k, v in self._data.items())

    def check(self, fix: bool) -> list[str]:
        return []

    def shared(self) -> bool:
        return False

    def close(self) -> None:
        pass


# Imposed on every open: nothing evicted, expired or put in a file; no tag index; and
# synchronous=NORMAL in WAL mode (a killed process loses no committed write).
_SETTINGS: dict[str, Any] = {
    "eviction_policy": "none",
    "size_limit": 2**62,
    "cull_limit": 0,
    "statistics": 0,
    "tag_index": 0,
    "disk_min_file_size": 2**62,
    "sqlite_journal_mode": "wal",
    "sqlite_synchronous": 1,
    "sqlite_auto_vacuum": 1,
    "sqlite_cache_size": 2**13,
    "sqlite_mmap_size": 2**26,
}
_KNOWN_SETTINGS = frozenset(diskcache.core.DEFAULT_SETTINGS) | frozenset(diskcache.core.METADATA)
_RAW = diskcache.core.MODE_RAW
_READ = "SELECT mode, value FROM Cache WHERE key = ? AND raw = 1"  # leaner than Cache.get
_RECORDS = f"FROM Cache WHERE key NOT GLOB '{_INTERNAL}*'"
_ITEMS = (
    "SELECT CAST(key AS BLOB), raw, mode, typeof(key) || ' ' || typeof(value), "
    f"CAST(value AS BLOB) {_RECORDS} ORDER BY rowid"
)
_OPENED = f"SELECT key FROM Cache WHERE key GLOB '{_INTERNAL}open:*'"  # by process id
_open_here: dict[str, weakref.WeakSet[DiskStore]] = {}  # this process's stores, by folder
_forks = 0  # how many forks made this process: a forked child opens its own connections


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)  # cheaper than os.getpid() on every read


def _foreign(what: str) -> CacheError:
    return damaged(
        f"the cache folder holds {what}, which onetwo never writes; refusing to load it "
        "(it was damaged or tampered with)"
    )


def _damaged(path: str, e: sqlite3.Error) -> CacheError:
    return damaged(f"the cache database in {path!r} is damaged ({e})")


class _SafeDisk(diskcache.Disk):
    """diskcache's ``Disk``, except that it never unpickles, nor makes or deletes a file."""

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        raise _foreign("a value read through diskcache")  # we read with our own query

    def remove(self, file_path: str) -> bool:
        return False

    def filename(self, key: Any = None, value: Any = None) -> tuple[str, str]:
        raise TypeError("the onetwo call cache keeps every value in SQLite.")


class DiskStore:
    """A :class:`Store` in a diskcache folder (``cache.db``, SQLite in WAL mode): writes in
    diskcache transactions, reads on a read-only connection per thread (anew after a fork)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory: str | None = os.fspath(directory)
        self._path = path = self.directory
        if os.path.exists(path) and not os.path.isdir(path):
            raise CacheError(f"the cache folder {path!r} is a file; give a folder path.")
        self._readers = threading.local()
        found = _inspect(path, os.path.join(path, diskcache.core.DBNAME))
        with self._guard():
            self._db = diskcache.Cache(path, disk=_SafeDisk, **_SETTINGS)
            if found != FORMAT:
                self._upgrade()
        _open_here.setdefault(os.path.realpath(path), weakref.WeakSet()).add(self)
        self._pid, self._checked, self._shared = 0, -1.0, False
        self._opening()

    def _opening(self) -> None:
        """Say in the folder that this process has it open; forget the processes that died."""
        self._pid = os.getpid()
        with self._guard(), self._db.transact(retry=True):
            for key in self._opened(lambda pid: not alive(pid)):
                self._db.delete(key, retry=True)
            self._db.set(f"{_INTERNAL}open:{self._pid}", "", retry=True)

    def shared(self) -> bool:
        """Whether another live process (or another store of this one) has opened the folder
        (read again at most once a second)."""
        if self._pid != os.getpid():  # a forked child
            self._opening()
        if SYSTEM_CLOCK.now() - self._checked > 1.0:
            here = len(_open_here[os.path.realpath(self._path)]) > 1
            with self._guard():
                self._shared = here or bool(self._opened(lambda p: p != self._pid and alive(p)))
            self._checked = SYSTEM_CLOCK.now()
        return self._shared

    def _opened(self, which: Callable[[int], bool]) -> list[str]:
        keys = [key for (key,) in self._reader()[1].execute(_OPENED)]
        pids = {key: key.rpartition(":")[2] for key in keys}
        return [key for key, pid in pids.items() if not pid.isdigit() or which(int(pid))]

    def _upgrade(self) -> None:
        """Write the format of a new folder, or seal the records of an older one."""
        with self._db.transact(retry=True):
            if self.read(Key(_FORMAT_KEY)) == _UNSEALED:  # another process may have done it
                for key, text in list(self.items()):
                    self._db.set(key, sealed(text, key), retry=True)
            self._db.set(_FORMAT_KEY, FORMAT, retry=True)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise _damaged(self._path, e) from None

    def read(self, key: Key) -> str | None:
        try:  # (not _guard: this is the replay hot path)
            row = self._reader()[2](_READ, (key,)).fetchone()  # one cursor, reused: ~10% faster
        except sqlite3.Error as e:
            raise _damaged(self._path, e) from None
        if row is None:
            return None
        if row[0] != _RAW or type(row[1]) is not str:
            raise _foreign("a pickled or file-backed value")
        return row[1]

    def update(self, key: Key, change: Callable[[str | None], str | None]) -> None:
        # While this transaction holds the write lock nobody else commits, so the reader
        # sees what the writer would.
        with self._guard(), self._db.transact(retry=True):
            if (new := change(self.read(key))) == "":
                self._db.delete(key, retry=True)
            elif new is not None:
                self._db.set(key, new, retry=True)

    def delete(self, keys: Iterable[Key]) -> None:
        with self._guard(), self._db.transact(retry=True):
            for key in keys:
                self._db.delete(key, retry=True)

    def items(self) -> Iterator[tuple[Key, str]]:
        # As bytes, so that a row that is not UTF-8 is one damaged record, not the scan's end.
        with self._guard():
            for key, raw, mode, types, value in self._reader()[1].execute(_ITEMS):
                if raw != 1 or mode != _RAW or types != "text text":
                    raise _foreign("a pickled key or value")
                yield Key(key.decode(errors="replace")), value.decode(errors="replace")

    def __len__(self) -> int:
        with self._guard():
            return int(self._reader()[1].execute(f"SELECT COUNT(*) {_RECORDS}").fetchone()[0])

    def volume(self) -> int:
        with self._guard():
            return int(self._db.volume())

    def check(self, fix: bool) -> list[str]:
        """SQLite's integrity check (nothing to fix here: ``fix`` touches no file)."""
        with self._guard():
            rows = self._reader()[1].execute("PRAGMA integrity_check").fetchall()
        return [str(damaged(f"the database is damaged: {r[0]}")) for r in rows if r[0] != "ok"]

    def _reader(self) -> tuple[int, sqlite3.Connection, Callable[..., sqlite3.Cursor]]:
        """This thread's read-only connection (a new one after a fork), and a cursor's execute."""
        state = getattr(self._readers, "state", None)
        if state is not None and state[0] == _forks:  # a forked child opens its own
            return state
        con = sqlite3.connect(
            os.path.join(self._path, diskcache.core.DBNAME),
            timeout=self._db.timeout,
            isolation_level=None,
        )
        for pragma in ("mmap_size = 67108864", "cache_size = 8192", "query_only = 1"):
            con.execute(f"PRAGMA {pragma}")
        self._readers.state = state = (_forks, con, con.cursor().execute)
        return state

    def close(self) -> None:
        if (state := getattr(self._readers, "state", None)) is not None:
            state[1].close()
            del self._readers.state
        self._db.close()


def alive(pid: int) -> bool:
    """Whether a process ``pid`` runs here (one on another machine sharing the folder is taken
    for dead, unless one here has its pid: then calls may be made twice)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's
        pass
    return True


def _inspect(folder: str, db_path: str) -> str | None:
    """The format of the folder's database (``None``: new), refusing one onetwo did not
    write, before diskcache opens it."""
    if not os.path.exists(db_path):
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as con:
            settings = con.execute("SELECT key, value FROM Settings").fetchall()
            fmt = con.execute("SELECT value FROM Cache WHERE key = ?", (_FORMAT_KEY,)).fetchone()
            rows = con.execute("SELECT COUNT(*) FROM Cache").fetchone()[0]
    except sqlite3.DatabaseError as e:
        if "no such table" in str(e):
            return None
        raise _damaged(folder, e) from None
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
    if fmt is None or fmt[0] in (FORMAT, _UNSEALED):
        return None if fmt is None else fmt[0]
    if not str(fmt[0]).startswith(FORMAT[:-1]):
        raise _foreign(f"the format {str(fmt[0])[:40]!r}")
    raise CacheError(
        f"the cache folder {folder!r} has the format {fmt[0]!r}, and this onetwo reads "
        f"{FORMAT!r}. Save it with export_jsonl() in the onetwo version that wrote it, "
        "and import_jsonl() the file here."
    )
