"""The call cache: every model call computed once, replayed exactly, from a shared folder.

A :class:`CallCache` keeps one record per call (``cache_record``) in a store (``cache_store``:
a diskcache folder shared by threads and processes, or memory). A :func:`cache_method` reads
the store (:meth:`CallCache.lookup`), else makes the call and writes it at once
(:meth:`CallCache.fill`): a killed run keeps every call that finished.

* **Key**: the method name, the backend's ``identity()`` (read once per backend: for another
  model make a new backend) and the effective arguments. **Samples**: each ``ot.repeat``
  copy's sampling key is bound to one sample for good, a new key to the first sample no
  other key holds (else a new call); outside repeats a call reads the first sample.
  Exceptions are not cached; identical calls in flight share one model call.
* **Claims**: in a folder another live process has open, a miss claims its sample for
  ``lease`` seconds before calling the model; the other process re-reads the entry (backoff
  up to 0.2 s) until the value comes, the claimant dies or the lease runs out.
* **Modes**: ``"read_write"`` (default), ``"replay"`` (a miss raises ``CacheMiss``),
  ``"record"`` (always call, overwrite), ``"off"``.

Example:
    >>> FakeBackend(default_reply="blue", cache="/tmp/exp1").register()  # doctest: +SKIP
    >>> ot.run(llm.generate_text("Sky color?"))  # computed once, then read  # doctest: +SKIP
    'blue'
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import warnings
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from typing import Any, Literal, ParamSpec, Protocol, TypeVar, get_args, overload

from onetwo.core.builtin import in_sync_pool
from onetwo.core.cache_record import (
    ACCEPTED,
    Call,
    Key,
    MethodSpec,
    Record,
    UnsupportedType,
    blob_key,
    bound_sample,
    damaged,
    decode,
    encode,
    key_json,
    key_of,
    register_types,
)
from onetwo.core.cache_store import DiskStore, MemoryStore, Store, alive
from onetwo.core.clock import SYSTEM_CLOCK, wall_time
from onetwo.core.files import atomic_open
from onetwo.core.sampling import current_sampling_key
from onetwo.core.tracing import annotate, current_node
from onetwo.errors import CacheError, CacheMiss

__all__ = [
    "MISS",
    "CacheEnabled",
    "CallCache",
    "FileCacheEnabled",
    "Mode",
    "SimpleFunctionCache",
    "cache_method",
    "open_cache",
    "register_types",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
Mode = Literal["read_write", "replay", "record", "off"]
_Path = str | os.PathLike[str]
EXPORT_FORMAT = "onetwo-call-cache/1"  # the JSON-lines header (the folder has its own)
MISS: Any = type("Miss", (), {"__repr__": lambda self: "caching.MISS"})()
"""What :meth:`CallCache.lookup` returns when the cache holds no value for the call."""
_MEMO_LIMIT = 200_000  # values remembered, by (key, sampling key); cleared when full


class CallCache:
    """A persistent, content-addressed cache of backend calls, built on a store.

    Args:
        directory: a folder (created if missing; share it between threads and processes,
            copy it to a colleague), or a ``cache_store.Store`` such as ``MemoryStore()``.
        mode: ``"read_write"``, ``"replay"``, ``"record"`` or ``"off"``; settable later.
        lease: how long (seconds) another process waits for a sample this one claimed.

    Example:
        >>> cache = CallCache("/tmp/exp1", mode="replay")  # doctest: +SKIP
        >>> FakeBackend(default_reply="x", cache=cache).register()  # doctest: +SKIP
        >>> cache.stats()  # doctest: +SKIP
        {'hits': 0, 'misses': 0, 'writes': 0, 'shared': 0, 'entries': 12, 'bytes': 57344}
    """

    def __init__(self, directory: _Path | Store, *, mode: Mode = "read_write", lease: float = 60.0):
        if not (isinstance(lease, int | float) and lease >= 0):
            raise ValueError(f"lease must be a number of seconds >= 0, got {lease!r}.")
        self.mode, self.lease = mode, lease  # (checked before the folder is made)
        if isinstance(directory, str | os.PathLike):
            directory = DiskStore(directory)
        self._store: Store = directory
        self.directory: str | None = self._store.directory
        self._blobs = self._blob  # bound once: the hot path passes it to decode()
        self._memo: dict[tuple[Key, str], str] = {}
        self._inflight: dict[tuple[Key, str], asyncio.Future[str]] = {}  # shared calls
        self._claims: dict[tuple[Key, str], int] = {}  # the claims of this cache's calls
        self.hits = self.misses = self.writes = self.shared = 0

    @property
    def mode(self) -> Mode:
        """How calls use the cache; assign another mode to switch."""
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        if mode not in get_args(Mode):
            raise ValueError(
                f"mode must be one of {', '.join(map(repr, get_args(Mode)))}; got {mode!r}. Use "
                "'replay' to forbid model calls, 'record' to recompute, 'off' to bypass the cache."
            )
        self._mode: Mode = mode
        self._reads = mode in ("read_write", "replay")  # the hot path's one test

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._location()!r}, mode={self._mode!r}, hits={self.hits}, "
            f"misses={self.misses}, writes={self.writes})"
        )

    def _location(self) -> Any:
        return self.directory

    def close(self) -> None:
        """Close the database connections (reopened if used again)."""
        self._store.close()

    def __reduce__(self) -> Any:  # a backend sent to another process reopens the folder
        if self.directory is None:
            raise TypeError(f"{type(self).__name__} lives in memory; save() it instead.")
        return (functools.partial(CallCache, mode=self._mode, lease=self.lease), (self.directory,))

    def __enter__(self) -> CallCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the call path --------------------------------------------------------------

    def lookup(self, key: Key, slot: str) -> Any:
        """The value cached for call ``key`` under sampling key ``slot``, or :data:`MISS`."""
        if not self._reads:
            if self._mode == "off":
                return MISS  # fill() calls straight through
            sample = None
        elif (sample := self._memo.get(mkey := (key, slot))) is None:
            text = self._store.read(key)
            if text is not None and (sample := bound_sample(text, slot, key)) is not None:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[mkey] = sample
        if current_node.get() is not None:
            annotate(cache_hit=sample is not None)
        if sample is None:
            return MISS
        self.hits += 1
        return self._decode(sample)

    async def fill(self, call: Call) -> Any:
        """The result of a call :meth:`lookup` missed (written before it is returned): a sample
        nobody holds, else an identical call in flight's, else the model's (or ``CacheMiss``)."""
        if self._mode == "off":
            return await call.spec.fn(call.backend, *call.args, **call.kwargs)
        loop, mkey = asyncio.get_running_loop(), (call.key, call.slot)
        # Only a call of this loop can be awaited: one left by a loop that is gone (a run
        # stopped mid-call) or by another thread's loop is ignored (and replaced).
        while (fut := self._inflight.get(mkey)) is not None and fut.get_loop() is loop:
            self.shared += 1
            try:
                return self._decode(await asyncio.shield(fut))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not fut.cancelled() or (task is not None and task.cancelling()):
                    raise  # else the call we waited on was cancelled: make it ourselves
        fut = self._inflight[mkey] = loop.create_future()
        try:
            value, stored, own = await self._obtain(call)
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
        return value if own else self._decode(stored)

    async def _obtain(self, call: Call) -> tuple[Any, str, bool]:
        """(value, stored sample, whether the value is ours) of a call missing in this process."""
        delay = 0.002
        while self._mode != "record":
            wait = self._mode == "read_write"  # claims are needed only in a shared folder
            sample, until = self._take(call.key, call.call_json, call.slot, wait)
            if sample is not None:
                self.hits += 1
                annotate(cache_hit=True)
                self._memo[call.key, call.slot] = sample
                return None, sample, False
            if self._mode == "replay":
                self.misses += 1
                raise CacheMiss(
                    f"replay mode: no cached result for {call.describe()}. Run it once in "
                    "read_write mode, or check that the arguments and the backend (model, "
                    "settings) match the recorded run.",
                    call=call.describe(),
                )
            if until is None:
                break  # ours to make
            await SYSTEM_CLOCK.sleep(max(0.001, min(delay, until - wall_time())))
            delay = min(delay * 2, 0.2)
        self.misses += 1
        try:
            value = await call.spec.fn(call.backend, *call.args, **call.kwargs)
            stored, own = self._write(call, value)
        except BaseException:
            if (mine := self._claims.get((call.key, call.slot))) is not None:
                with contextlib.suppress(CacheError):  # others need not wait out the lease
                    self._edit(call.key, None, lambda r: r.release(call.slot, mine))
            raise
        finally:
            self._claims.pop((call.key, call.slot), None)
        return value, stored, own

    def _take(self, key: Key, call: str, slot: str, wait: bool) -> tuple[str | None, float | None]:
        """(A sample nobody holds, bound to ``slot``, None); else, with ``wait``, (None, the end
        of another live process's claim on it), or (None, None) with our claim written if the
        folder is shared; else (None, None)."""
        mine, held = self._claims.get((key, slot), 0), None  # ours even if from a gone loop
        claim = wait and self._store.shared()

        def take(record: Record, dry: bool = False) -> str | None:
            nonlocal held
            if (i := record.claimable(slot)) is not None:
                record.bindings[slot] = i
                return record.samples[i]
            if wait and (held := record.held(slot, wall_time(), mine, alive)) is not None:
                return None  # nothing written
            if not claim:
                return None
            if not dry:
                self._claims[key, slot] = record.claim(slot, wall_time() + self.lease)
            return ""  # (never a sample) our claim is written

        # A dry run on a read first: take the write lock only if there is something to write.
        text = self._store.read(key)
        if take(Record(call) if text is None else Record.parse(text, key), dry=True) is None:
            return None, held
        sample = self._edit(key, call if claim else None, take)
        return sample or None, held

    def _edit(self, key: Key, new: str | None, edit: Callable[[Record], T | None]) -> T | None:
        """``edit`` the record at ``key`` (or a new one of call ``new``, if given) in one
        transaction; return its result (``None``: nothing written)."""
        out: list[T | None] = [None]

        def change(old: str | None) -> str | None:
            if old is None and new is None:
                return None
            record = Record(new) if old is None else Record.parse(old, key)  # type: ignore[arg-type]
            out[0] = edit(record)
            if out[0] is None:
                return None
            return record.dump(key) if record.samples or record.bindings else ""  # "": delete

        self._store.update(key, change)
        return out[0]

    def _write(self, call: Call, value: Any) -> tuple[str, bool]:
        """Store ``value`` for ``call``; return (the stored sample, whether it is ours)."""
        key, slot, sample = call.key, call.slot, self._encode(value, call.describe)

        def put(record: Record) -> tuple[Record, int, bool]:
            return (record, *record.bind(slot, sample, self._mode == "record"))

        record, i, own = self._edit(key, call.call_json, put)  # type: ignore[misc]
        for other, j in record.bindings.items():  # what recording rewrote is stale here
            if j == i:
                self._memo.pop((key, other), None)
        self.writes += 1
        return record.samples[i], own

    def _encode(self, value: Any, describe: Callable[[], str]) -> str:
        """The sample of ``value``, its long bytes stored in blob rows (first: no dangling
        reference)."""
        blobs: dict[str, bytes] = {}
        try:
            sample = encode(value, blobs)
        except (UnsupportedType, RecursionError) as e:
            what = e.type_name if isinstance(e, UnsupportedType) else "value nested too deeply"
            raise CacheError(
                f"cannot cache the result of {describe()}: it is a {what}, and the cache "
                f"stores {ACCEPTED}, nested at most a few hundred levels. Return one of those "
                "from the backend method, or run without a cache."
            ) from None
        for digest, data in blobs.items():
            text = base64.b64encode(data).decode("ascii")
            self._store.update(blob_key(digest), functools.partial(_unless_same, text))
        return sample

    def _decode(self, sample: str) -> Any:
        return decode(sample, self._blobs)

    def _blob(self, digest: Any) -> bytes:
        """The bytes of a blob row, checked against its digest."""
        text = self._store.read(blob_key(str(digest)))
        try:
            data = base64.b64decode(text or "", validate=True)
        except ValueError:
            data = b""
        if text is None or hashlib.sha256(data).hexdigest() != digest:
            raise damaged(f"the cached bytes {str(digest)[:16]}... are missing or damaged")
        return data

    # --- inspection and maintenance -------------------------------------------------

    def _entries(
        self, match: Mapping[str, Any], damaged: list[tuple[Key | None, str]] | None = None
    ) -> Iterator[tuple[Key, Record, Any]]:
        """The entries of backends matching ``match``; with ``damaged``, damage is listed there,
        not raised (a damaged part of the database ends the scan)."""
        try:
            for key, text in self._store.items():
                try:
                    ident = (record := Record.parse(text, key)).identity()
                except CacheError as e:
                    if damaged is None:
                        raise
                    damaged.append((key, str(e)))
                    continue
                if all(ident.get(k) == v for k, v in match.items()):
                    yield key, record, ident
        except CacheError as e:
            if damaged is None:
                raise
            damaged.append((None, str(e)))

    def get_key_count(self) -> int:
        """How many calls (keys) the cache holds, as ``stats()["entries"]``."""
        return len(self._store)

    def stats(self) -> dict[str, int]:
        """Hits, misses, writes, shared in-flight calls; ``entries`` (calls) and ``bytes``."""
        counts = {"hits": self.hits, "misses": self.misses, "writes": self.writes}
        store = {"entries": len(self._store), "bytes": self._store.volume()}
        return counts | {"shared": self.shared} | store

    def backends(self) -> list[dict[str, Any]]:
        """The backends with entries: ``[{"identity": {...}, "entries": n}, ...]``."""
        found: dict[str, dict[str, Any]] = {}
        for _, _, ident in self._entries({}):
            found.setdefault(key_json(ident), {"identity": ident, "entries": 0})["entries"] += 1
        return list(found.values())

    def drop(self, **match: Any) -> int:
        """Delete (and count) the entries of backends with these identity fields, e.g.
        ``cache.drop(provider="openai", model="gpt-4o-mini")``."""
        if not match:
            raise ValueError("drop() needs at least one identity field, e.g. model='...'.")
        keys = [key for key, _, _ in self._entries(match)]
        self._store.delete(keys)
        self._memo.clear()
        return len(keys)

    def records(self, **match: Any) -> Iterator[dict[str, Any]]:
        """Each cached call as JSON data, as exported: ``{"key", "call", "samples", "slots"}``."""
        return (r.export(self._blob) for _, r, _ in self._entries(match) if r.samples)

    def export_jsonl(self, path: _Path, **match: Any) -> int:
        """Write (atomically) the entries of the backends matching ``match``; count them.
        Damaged ones are left out with a warning: this saves what a damaged folder holds."""
        count, damaged = 0, []  # type: ignore[var-annotated]
        with atomic_open(path, "w") as f:
            f.write(json.dumps({"format": EXPORT_FORMAT}) + "\n")
            for key, record, _ in self._entries(match, damaged):
                try:
                    line = json.dumps(record.export(self._blob), separators=(",", ":"))
                except CacheError as e:
                    damaged.append((key, str(e)))
                    continue
                if record.samples:
                    f.write(line + "\n")
                    count += 1
        if damaged:
            warnings.warn(
                f"export_jsonl saved {count} entries and left out what is damaged: "
                + "; ".join(message for _, message in damaged[:5]),
                stacklevel=2,
            )
        return count

    def import_jsonl(self, path: _Path) -> int:
        """Merge the entries of a file :meth:`export_jsonl` wrote; return their count. It adds
        samples and binds only keys not bound here; an edited line is refused."""
        path, count = os.fspath(path), 0
        with open(path, encoding="utf-8") as f:
            header = _json_line(f.readline(), f"{path}:1")
            if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
                raise CacheError(
                    f"{path!r} is not a {EXPORT_FORMAT} export (its first line is not the "
                    "header export_jsonl writes). Import a file written by export_jsonl."
                )
            for lineno, line in enumerate(f, start=2):
                if line.strip():
                    where = f"{path}:{lineno}"
                    key, theirs = Record.from_export(_json_line(line, where), where)
                    self._edit(key, theirs.call, theirs.merge_into)
                    count += 1
        return count  # nothing remembered goes stale: an import never rebinds a bound key

    def check(self, fix: bool = False) -> list[str]:
        """The problems of the store and of every entry (``[]`` if none); ``fix`` deletes the
        damaged entries (and nothing else: no file is touched)."""
        try:
            problems = self._store.check(fix)
        except CacheError as e:
            problems = [str(e)]
        damaged: list[tuple[Key | None, str]] = []
        for key, record, _ in self._entries({}, damaged):
            if problem := record.problem(key, self._blob):
                damaged.append((key, problem))
        problems += [message if key is None else f"{key}: {message}" for key, message in damaged]
        if fix:
            self._store.delete(key for key, _ in damaged if key is not None)
            self._memo.clear()
        return problems


def _json_line(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as e:
        raise CacheError(f"{where}: not JSON ({e}); the file is truncated or was edited.") from None


class SimpleFunctionCache(CallCache):
    """An in-memory call cache saved to and loaded from one file, as in the reference.

    A :class:`CallCache` on a ``MemoryStore`` (what is not saved is lost); the file is the
    JSON-lines export. :meth:`cache_value` and :meth:`get_cached_value` store and read values
    by a key of your own (and a sampling key); ``cached_value_decoder`` converts every value
    read (e.g. a dict into your class).

    Example:
        >>> cache = SimpleFunctionCache(cache_filename="/tmp/exp1.jsonl")  # doctest: +SKIP
        >>> cache.load()  # doctest: +SKIP
        >>> backend = FakeBackend(default_reply="x", cache=cache)  # doctest: +SKIP
        >>> cache.save()  # doctest: +SKIP
    """

    def __init__(
        self,
        cache_filename: _Path | None = None,
        *,
        mode: Mode = "read_write",
        cached_value_decoder: Callable[[Any], Any] | None = None,
    ):
        super().__init__(MemoryStore(), mode=mode)
        self.cache_filename, self.cached_value_decoder = cache_filename, cached_value_decoder

    def _decode(self, sample: str) -> Any:
        value = decode(sample, self._blobs)
        return value if self.cached_value_decoder is None else self.cached_value_decoder(value)

    def _location(self) -> Any:
        return self.cache_filename

    @staticmethod
    def _call(key: str) -> tuple[Key, str]:
        call = key_json({"backend": {"class": "SimpleFunctionCache"}, "method": "", "params": key})
        return key_of(call), call

    async def cache_value(self, key: str, sampling_key: str | None, value: Any) -> None:
        """Add ``value`` to the values of ``key``; a ``sampling_key`` bound already has its
        value replaced, a new one is bound to the first value no sampling key holds."""
        k, call = self._call(key)
        sample = self._encode(value, lambda: f"cache_value({key!r:.80})")

        def put(record: Record) -> bool:
            if sampling_key is not None and record.bindings.get(sampling_key, -1) >= 0:
                record.samples[record.bindings[sampling_key]] = sample
                return True
            if sample not in record.samples:
                record.samples.append(sample)
            if sampling_key is not None:
                i = record.claimable(sampling_key)
                record.bindings[sampling_key] = record.samples.index(sample) if i is None else i
            return True

        self._edit(k, call, put)
        self._memo.clear()
        self.writes += 1

    async def get_cached_value(self, key: str, sampling_key: str | None) -> Any:
        """The value for ``key`` bound to ``sampling_key`` (else one no key holds), or None."""
        k, _ = self._call(key)
        if (value := self.lookup(k, slot := sampling_key or "")) is not MISS:
            return value
        sample, _ = self._take(k, "", slot, False) if self._reads else (None, None)
        return None if sample is None else self._decode(sample)

    def save(self, cache_filename: _Path | None = None, overwrite: bool = True) -> int:
        """Write every entry to the file; return how many."""
        path = self._path(cache_filename)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path!r} exists; pass overwrite=True to replace it.")
        return self.export_jsonl(path)

    def load(self, cache_filename: _Path | None = None, *, overwrite: bool = False) -> int:
        """Merge the entries saved in the file (``overwrite``: replace); return how many."""
        path = self._path(cache_filename)
        if overwrite:
            self._store, self._memo = MemoryStore(), {}
        return self.import_jsonl(path)

    def _path(self, cache_filename: _Path | None) -> str:
        if (path := cache_filename or self.cache_filename) is None:
            raise ValueError("no file: pass cache_filename here or to SimpleFunctionCache().")
        return os.fspath(path)


def _unless_same(text: str, old: str | None) -> str | None:
    return None if old == text else text


def open_cache(cache: CallCache | _Path) -> CallCache:
    """The cache a backend's ``cache=`` names: the object itself, or a folder to open."""
    if isinstance(cache, CallCache):
        return cache
    if isinstance(cache, str | os.PathLike):
        return CallCache(cache)
    got = f"{type(cache).__name__}: {cache!r:.80}"
    raise TypeError(f"cache= takes a CallCache or a folder path, got {got}.")


@dataclasses.dataclass
class CacheEnabled:
    """A class whose :func:`cache_method` methods use ``cache`` (the reference's name).

    Attributes:
        disable_caching: call straight through, as if ``cache`` were None.
        cache: the ``CallCache`` (or :class:`SimpleFunctionCache`) of the methods.
    """

    disable_caching: bool = False
    cache: CallCache | None = None

    @property
    def _cache_handler(self) -> CallCache:
        if self.cache is None:
            raise ValueError(f"{type(self).__name__} has no cache: set its `cache` first.")
        return self.cache

    @_cache_handler.setter
    def _cache_handler(self, cache: CallCache) -> None:
        self.cache = cache


@dataclasses.dataclass
class FileCacheEnabled(CacheEnabled):
    """A :class:`CacheEnabled` class whose cache is saved to ``cache_filename`` (JSON lines).

    Example:
        >>> backend.cache = SimpleFunctionCache(backend.cache_filename)  # doctest: +SKIP
        >>> backend.load_cache()  # doctest: +SKIP
        >>> backend.save_cache(overwrite=True)  # doctest: +SKIP
    """

    cache_filename: str | None = None

    def _file_cache(self) -> SimpleFunctionCache:
        if not isinstance(cache := self._cache_handler, SimpleFunctionCache):
            raise TypeError(f"{type(self).__name__}.cache must be a SimpleFunctionCache.")
        return cache

    def load_cache(self, *, overwrite: bool = True, cache_filename: str | None = None) -> int:
        """Load the saved file (``overwrite``: instead of what the cache holds)."""
        return self._file_cache().load(cache_filename or self.cache_filename, overwrite=overwrite)

    def save_cache(self, *, overwrite: bool = False, cache_filename: str | None = None) -> int:
        """Save the cache to the file (``overwrite``: replace an existing file)."""
        return self._file_cache().save(cache_filename or self.cache_filename, overwrite=overwrite)


class _CachedMethod(Protocol):
    """What ``cache_method(...)`` returns: a decorator whose methods are async."""

    @overload
    def __call__(
        self, method: Callable[P, Coroutine[Any, Any, R]]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    @overload
    def __call__(self, method: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]: ...


def cache_method(
    name: str | None = None, *, is_sampled: bool = False, ignore_args: Iterable[str] = ()
) -> _CachedMethod:
    """Cache a backend method in ``self.cache`` (no cache, or ``self.disable_caching``: call
    straight through); put it outermost, above batching and retries, so that hits skip both.
    The cached method is async; a sync one runs in a worker thread.

    Args:
        name: the name in the key, e.g. ``"llm.generate_text"`` (default: the qualname).
        is_sampled: whether outputs are random draws (then each ``ot.repeat`` copy gets
            its own sample); if False the sampling key is ignored.
        ignore_args: arguments that do not change the output (e.g. a timeout).

    Example:
        >>> class MyBackend(Backend):
        ...     @cache_method(name="llm.generate_text", is_sampled=True)
        ...     async def generate_text(self, prompt: str, *, temperature: float = 1.0) -> str:
        ...         ...
    """

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        fn: Callable[..., Any] = method
        if not inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def fn(self: Any, *args: Any, **kwargs: Any) -> Any:
                return await in_sync_pool(functools.partial(method, self, *args), **kwargs)

        spec = MethodSpec(fn, name or method.__qualname__, is_sampled, ignore_args)

        @functools.wraps(method)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if (cache := self.cache) is None or getattr(self, "disable_caching", False):
                return await fn(self, *args, **kwargs)
            if not isinstance(cache, CallCache):
                raise TypeError(
                    f"{type(self).__name__}.cache is a {type(cache).__name__} ({cache!r:.80}); "
                    "it must be a CallCache or None. Pass cache= to the backend's constructor "
                    "(a CallCache or a folder path), or assign caching.open_cache(folder)."
                )
            try:
                text = spec.call_json(self, args, kwargs)
            except CacheError:
                if cache.mode != "off":  # off bypasses the cache, keys included
                    raise
                text = None
            if text is None:
                return await fn(self, *args, **kwargs)  # unbound arguments: fn raises
            slot = current_sampling_key() if is_sampled else ""
            if (value := cache.lookup(key_of(text), slot)) is MISS:
                return await cache.fill(Call(spec, self, args, kwargs, text, slot))
            return value

        wrapper.__onetwo_cache_spec__ = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate
