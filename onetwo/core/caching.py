"""The call cache: every model call computed once, replayed exactly, from a shared folder.

A :class:`CallCache` is built on a store (``onetwo.core.cache_store``: a diskcache folder
that threads and processes may share, or memory) of records (``onetwo.core.cache_record``:
one per call, with its samples). A backend given ``cache=`` answers each call of a method
decorated with :func:`cache_method` from the store when it can (:meth:`CallCache.lookup`),
and otherwise makes it and writes the result at once (:meth:`CallCache.fill`), so a run
that crashes or is killed keeps everything that finished.

* **Key**: SHA-256 of the canonical JSON of the method name, the backend's
  ``identity()`` (provider, model, output-affecting settings) and every effective
  argument, defaults applied. Unsupported argument types raise ``CacheError``.
* **Samples**: a key holds a list of samples. Inside ``ot.repeat`` each copy has a
  sampling key (``"0"``, ``"3#5"``...) which the cache binds to one sample, for good: a
  replay gives every copy the sample it had, whatever order the copies finish in. A new
  key takes the first sample no other key holds, or calls the model. Outside any repeat
  (key ``""``) a call reads the first sample without using it up, so wrapping it in
  ``repeat`` later reuses it.
* **Values** are stored as JSON: loading never unpickles and never imports. ``None`` is
  a value; exceptions are never cached. Identical calls in flight share one model call.
* **Modes**: ``"read_write"`` (default), ``"replay"`` (a miss raises ``CacheMiss``: no
  model is contacted), ``"record"`` (always call, overwrite), ``"off"``.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> from onetwo.backends.fake import FakeBackend
    >>> FakeBackend(default_reply="blue", cache="/tmp/exp1").register()  # doctest: +SKIP
    >>> ot.run(llm.generate_text("Sky color?"))  # computed once, then read  # doctest: +SKIP
    'blue'

Share an experiment by copying the whole folder while no run uses it (recent writes may
still sit in ``cache.db-wal``), or with :meth:`CallCache.export_jsonl` /
:meth:`CallCache.import_jsonl`. Not for: results that depend on something outside the
arguments and ``identity()`` (e.g. a server-side model that changes under the same
name): replay would hide the change.

Good to know: a write is one SQLite transaction (WAL, ``synchronous=NORMAL``): a killed
process loses only the calls in flight, a power cut maybe the last few writes, never the
database. A process remembers the values it has read (bindings never change, except in
``record`` mode). ``identity()`` is read once per backend instance: change the model by
making a new backend (or a copy), not by assigning to an existing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, TypeVar, get_args

from onetwo.core.cache_record import (
    ACCEPTED,
    Call,
    Key,
    MethodSpec,
    Record,
    UnsupportedType,
    bound_sample,
    decode,
    encode,
    key_json,
    key_of,
    register_types,
)
from onetwo.core.cache_store import DiskStore, MemoryStore, Store
from onetwo.core.sampling import current_sampling_key
from onetwo.core.tracing import annotate, current_node
from onetwo.errors import CacheError, CacheMiss

__all__ = [
    "MISS",
    "CallCache",
    "Mode",
    "SimpleFunctionCache",
    "cache_method",
    "open_cache",
    "register_types",
]

F = TypeVar("F", bound=Callable[..., Any])
Mode = Literal["read_write", "replay", "record", "off"]
_MODES: tuple[str, ...] = get_args(Mode)
EXPORT_FORMAT = "onetwo-call-cache/1"  # the JSON-lines header (the folder has its own)
MISS: Any = type("Miss", (), {"__repr__": lambda self: "caching.MISS", "__slots__": ()})()
"""What :meth:`CallCache.lookup` returns when the cache holds no value for the call."""
# Values read, by (key, sampling key); cleared when full, so memory stays bounded.
_MEMO_LIMIT = 200_000


class CallCache:
    """A persistent, content-addressed cache of backend calls, built on a store.

    Args:
        directory: the folder (created if missing; safe to share between threads and
            processes, and to copy to a colleague), or a ``cache_store.Store`` (e.g.
            ``MemoryStore()``).
        mode: ``"read_write"``, ``"replay"``, ``"record"`` or ``"off"`` (see the module
            docstring); settable later through :attr:`mode`.

    Example:
        >>> cache = CallCache("/tmp/exp1", mode="replay")  # doctest: +SKIP
        >>> FakeBackend(default_reply="x", cache=cache).register()  # doctest: +SKIP
        >>> cache.stats()  # doctest: +SKIP
        {'hits': 0, 'misses': 0, 'writes': 0, 'shared': 0, 'entries': 12, 'bytes': 57344}
    """

    def __init__(self, directory: str | os.PathLike[str] | Store, *, mode: Mode = "read_write"):
        _check_mode(mode)  # before the folder is made
        store = DiskStore(directory) if isinstance(directory, str | os.PathLike) else directory
        self._store: Store = store
        self.directory: str | None = store.directory
        self.mode = mode
        self._memo: dict[tuple[Key, str], str] = {}
        # Calls in flight, so that identical concurrent calls share one.
        self._inflight: dict[tuple[Key, str], asyncio.Future[str]] = {}
        self.hits = self.misses = self.writes = self.shared = 0

    @property
    def mode(self) -> Mode:
        """How calls use the cache; assign another mode to switch."""
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        _check_mode(mode)
        self._mode: Mode = mode
        self._recording = mode == "record"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._location()!r}, mode={self._mode!r}, hits={self.hits}, "
            f"misses={self.misses}, writes={self.writes})"
        )

    def _location(self) -> Any:
        return self.directory

    def close(self) -> None:
        """Close the database connections (the object reopens them if used again)."""
        self._store.close()

    def __reduce__(self) -> Any:
        # A backend sent to another process reopens the folder there.
        if self.directory is None:
            raise TypeError(f"{type(self).__name__} lives in memory; save() it instead.")
        return (_reopen, (self.directory, self._mode))

    def __enter__(self) -> CallCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the call path --------------------------------------------------------------

    def lookup(self, key: Key, slot: str) -> Any:
        """The value cached for the call ``key`` under the sampling key ``slot``, or :data:`MISS`.

        One read, no waiting, no model call; a hit is counted and flagged in the trace.
        """
        if self._recording:
            sample = None
        elif (sample := self._memo.get(mkey := (key, slot))) is None:
            text = self._store.read(key)
            if text is not None and (sample := bound_sample(text, slot)) is not None:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[mkey] = sample
        if current_node.get() is not None:
            annotate(cache_hit=sample is not None)
        if sample is None:
            return MISS
        self.hits += 1
        return decode(sample)

    async def fill(self, call: Call) -> Any:
        """The result of a call :meth:`lookup` missed: claimed, shared, or made and stored.

        A free sample is claimed for the call's sampling key; else an identical call in
        flight is awaited; else the model is called (``CacheMiss`` in ``replay`` mode)
        and its result written before it is returned.
        """
        if not self._recording:
            sample = self._claim(call)
            if sample is not None:
                self.hits += 1
                annotate(cache_hit=True)
                return decode(sample)
            if self._mode == "replay":
                self.misses += 1
                raise CacheMiss(
                    f"replay mode: no cached result for {call.describe()}. Run it once in "
                    "read_write mode, or check that the arguments and the backend (model, "
                    "settings) match the recorded run.",
                    call=call.describe(),
                )
        self.misses += 1
        loop = asyncio.get_running_loop()
        # Only a call of this loop can be awaited: one left by a loop that is gone (a run
        # stopped mid-call) or by another thread's loop is ignored (and replaced).
        mkey = (call.key, call.slot)
        while (fut := self._inflight.get(mkey)) is not None and fut.get_loop() is loop:
            self.shared += 1
            try:
                return decode(await asyncio.shield(fut))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not fut.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The call we waited on was cancelled, not us: make it ourselves.
        fut = self._inflight[mkey] = loop.create_future()
        try:
            value = await call.spec.fn(call.backend, *call.args, **call.kwargs)
            stored, own = self._write(call, value)
        except BaseException as e:  # never cached: the callers sharing it get it too
            if isinstance(e, asyncio.CancelledError):
                fut.cancel()
            else:
                fut.set_exception(e)
                fut.exception()  # waiters re-raise it; don't log it as never retrieved
            raise
        finally:
            if self._inflight.get(mkey) is fut:
                del self._inflight[mkey]
        fut.set_result(stored)
        return value if own else decode(stored)

    def _remember(self, mkey: tuple[Key, str], sample: str) -> None:
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[mkey] = sample

    def _claim(self, call: Call) -> str | None:
        """Bind the call's sampling key to a sample nobody holds, if any; return it."""
        key, slot, got = call.key, call.slot, list[str]()
        text = self._store.read(key)
        if text is None or Record.parse(text, key).claimable(slot) is None:
            return None

        def change(old: str | None) -> str | None:
            got.clear()
            record = None if old is None else Record.parse(old, key)
            i = None if record is None else record.claimable(slot)
            if record is None or i is None:
                return None
            record.bindings[slot] = i
            got.append(record.samples[i])
            return record.dump()

        self._store.update(key, change)
        if got:
            self._remember((key, slot), got[0])
        return got[0] if got else None

    def _write(self, call: Call, value: Any) -> tuple[str, bool]:
        """Store ``value`` for the call's sampling key; return (stored sample, is it ours)."""
        try:
            sample = encode(value)
        except UnsupportedType as e:
            raise CacheError(
                f"cannot cache the result of {call.describe()}: it is a {e.type_name}, and "
                f"the cache stores {ACCEPTED}. Return one of those from the backend method, "
                "or run without a cache."
            ) from None
        key, done = call.key, list[Any]()

        def change(old: str | None) -> str:
            record = Record(call.call_json) if old is None else Record.parse(old, key)
            done[:] = [record, *record.bind(call.slot, sample, self._recording)]
            return record.dump()

        self._store.update(key, change)
        record, i, own = done
        for slot, j in record.bindings.items():  # recording rewrote what they remember
            if j == i:
                self._memo.pop((key, slot), None)
        self.writes += 1
        return record.samples[i], own

    # --- inspection and maintenance -------------------------------------------------

    def _entries(self, match: Mapping[str, Any]) -> Iterator[tuple[Key, Record, Any]]:
        for key, text in self._store.items():
            record = Record.parse(text, key)
            ident = record.call_data()["backend"]
            if all(ident.get(k) == v for k, v in match.items()):
                yield key, record, ident

    def stats(self) -> dict[str, int]:
        """This object's hits, misses, writes, shared in-flight calls; the store's size.

        ``entries`` counts cached calls (each may hold several samples), ``bytes`` the
        store's size (the database's on disk).
        """
        return {
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
            "shared": self.shared,
            "entries": len(self._store),
            "bytes": self._store.volume(),
        }

    def backends(self) -> list[dict[str, Any]]:
        """The backends with entries: ``[{"identity": {...}, "entries": n}, ...]``."""
        found: dict[str, dict[str, Any]] = {}
        for _, _, ident in self._entries({}):
            entry = found.setdefault(key_json(ident), {"identity": ident, "entries": 0})
            entry["entries"] += 1
        return list(found.values())

    def drop(self, **match: Any) -> int:
        """Delete the entries of the backends whose identity has all the given fields.

        Example: ``cache.drop(provider="openai", model="gpt-4o-mini")``. Returns the
        number of cached calls deleted.
        """
        if not match:
            raise ValueError("drop() needs at least one identity field, e.g. model='...'.")
        keys = [key for key, _, _ in self._entries(match)]
        self._store.delete(keys)
        self._memo.clear()
        return len(keys)

    def records(self, **match: Any) -> Iterator[dict[str, Any]]:
        """Each cached call as ``{"key", "call", "samples", "slots"}`` (JSON data).

        ``call`` holds ``backend`` (its identity), ``method`` and ``params``; samples
        are in their stored JSON form (tagged, not rebuilt into objects).
        """
        return (record.export() for _, record, _ in self._entries(match))

    def export_jsonl(self, path: str | os.PathLike[str], **match: Any) -> int:
        """Write the entries (of the backends matching ``match``) to a JSON-lines file.

        The file is written to a temporary name and renamed, so it is never half
        written. Returns the number of entries written.
        """
        path = os.fspath(path)
        tmp, count = f"{path}.tmp{os.getpid()}", 0
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps({"format": EXPORT_FORMAT}) + "\n")
                for rec in self.records(**match):
                    f.write(json.dumps(rec, separators=(",", ":")) + "\n")
                    count += 1
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)  # e.g. a corrupt entry: leave no half-written file behind
            raise
        return count

    def import_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Merge the entries of a file written by :meth:`export_jsonl`; return their count.

        Entries already here keep their samples and bindings; new samples are added and
        sampling keys not bound here take the file's binding. Every line's key is checked
        against its call, so an edited line is refused (``CacheError`` naming the line;
        the lines before it stay imported).
        """
        path, count = os.fspath(path), 0
        with open(path, encoding="utf-8") as f:
            header = _json_line(f.readline(), f"{path}:1")
            if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
                raise CacheError(
                    f"{path!r} is not a {EXPORT_FORMAT} export (its first line is not the "
                    "header export_jsonl writes). Import a file written by "
                    "CallCache.export_jsonl."
                )
            for lineno, line in enumerate(f, start=2):
                if line.strip():
                    where = f"{path}:{lineno}"
                    key, theirs = Record.from_export(_json_line(line, where), where)
                    self._store.update(key, functools.partial(_merged, theirs, key))
                    count += 1
        return count  # nothing remembered goes stale: an import never rebinds a bound key

    def check(self, fix: bool = False) -> list[str]:
        """Check the store and every entry; return the problems found (``[]`` if none).

        With ``fix=True``, broken entries are deleted.
        """
        problems, broken = self._store.check(fix), []
        for key, text in self._store.items():
            try:
                problem = Record.parse(text, key).problem(key)
            except CacheError as e:
                problem = str(e)
            if problem:
                problems.append(f"{key}: {problem}")
                broken.append(key)
        if fix:
            self._store.delete(broken)
            self._memo.clear()
        return problems


def _merged(theirs: Record, key: Key, old: str | None) -> str:
    if old is None:
        return theirs.dump()
    ours = Record.parse(old, key)
    ours.merge(theirs)
    return ours.dump()


def _json_line(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as e:
        raise CacheError(f"{where}: not JSON ({e}); the file is truncated or was edited.") from None


class SimpleFunctionCache(CallCache):
    """An in-memory call cache saved to and loaded from one file, as in the reference.

    Same keys, samples and modes as :class:`CallCache` (on a ``MemoryStore``); the file
    is the JSON-lines export, written atomically. Prefer :class:`CallCache` for long
    runs: it writes every call as it completes, while this one loses what was not saved.

    Example:
        >>> cache = SimpleFunctionCache(cache_filename="/tmp/exp1.jsonl")  # doctest: +SKIP
        >>> cache.load()  # doctest: +SKIP
        >>> backend = FakeBackend(default_reply="x", cache=cache)  # doctest: +SKIP
        >>> cache.save()  # doctest: +SKIP
    """

    def __init__(
        self, cache_filename: str | os.PathLike[str] | None = None, *, mode: Mode = "read_write"
    ) -> None:
        super().__init__(MemoryStore(), mode=mode)
        self.cache_filename = cache_filename

    def _location(self) -> Any:
        return self.cache_filename

    def save(
        self, cache_filename: str | os.PathLike[str] | None = None, overwrite: bool = True
    ) -> int:
        """Write every entry to the file; return how many."""
        path = self._path(cache_filename)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path!r} exists; pass overwrite=True to replace it.")
        return self.export_jsonl(path)

    def load(self, cache_filename: str | os.PathLike[str] | None = None) -> int:
        """Merge the entries saved in the file; return how many."""
        return self.import_jsonl(self._path(cache_filename))

    def _path(self, cache_filename: str | os.PathLike[str] | None) -> str:
        path = cache_filename if cache_filename is not None else self.cache_filename
        if path is None:
            raise ValueError("no file: pass cache_filename here or to SimpleFunctionCache().")
        return os.fspath(path)


def _check_mode(mode: Any) -> None:
    if mode not in _MODES:
        raise ValueError(
            f"mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}. Use "
            "'replay' to forbid model calls, 'record' to recompute, 'off' to bypass the cache."
        )


def _reopen(directory: str, mode: Mode) -> CallCache:
    return CallCache(directory, mode=mode)


def open_cache(cache: CallCache | str | os.PathLike[str]) -> CallCache:
    """The cache a backend's ``cache=`` names: the object itself, or a folder to open."""
    if isinstance(cache, CallCache):
        return cache
    if isinstance(cache, str | os.PathLike):
        return CallCache(cache)
    raise TypeError(
        f"cache= takes a CallCache or a folder path, got {type(cache).__name__}: {cache!r:.80}."
    )


def cache_method(
    name: str | None = None, *, is_sampled: bool = False, ignore_args: Iterable[str] = ()
) -> Callable[[F], F]:
    """Cache an async backend method in ``self.cache`` (no cache: call straight through).

    Put it outermost, above batching and retries, so that hits skip both.

    Args:
        name: the name in the key, e.g. ``"llm.generate_text"`` (default: the qualname).
        is_sampled: whether outputs are random draws (then each ``ot.repeat`` copy gets
            its own sample); if False the sampling key is ignored.
        ignore_args: arguments that do not change the output (e.g. a timeout), left out
            of the key.

    Example:
        >>> class MyBackend(Backend):
        ...     @cache_method(name="llm.generate_text", is_sampled=True)
        ...     async def generate_text(self, prompt: str, *, temperature: float = 1.0) -> str:
        ...         ...
    """

    def decorate(fn: F) -> F:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"cache_method decorates async methods; {fn.__qualname__} is not.")
        spec = MethodSpec(fn, name or fn.__qualname__, is_sampled, ignore_args)

        @functools.wraps(fn)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            cache = self.cache
            if cache is None:
                return await fn(self, *args, **kwargs)
            if not isinstance(cache, CallCache):
                raise _not_a_cache(self, cache)
            if cache.mode == "off" or (text := spec.call_json(self, args, kwargs)) is None:
                return await fn(self, *args, **kwargs)  # unbound arguments: fn raises
            slot = current_sampling_key() if is_sampled else ""
            value = cache.lookup(key_of(text), slot)
            if value is MISS:
                return await cache.fill(Call(spec, self, args, kwargs, text, slot))
            return value

        wrapper.__onetwo_cache_spec__ = spec  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _not_a_cache(backend: Any, cache: Any) -> TypeError:
    return TypeError(
        f"{type(backend).__name__}.cache is a {type(cache).__name__} ({cache!r:.80}); it must be "
        "a CallCache or None. Pass cache= to the backend's constructor (a CallCache or a "
        "folder path), or assign caching.open_cache(folder)."
    )
