"""The call cache: every model call computed once, replayed exactly, from a shared folder.

A :class:`CallCache` keeps one record per call (``cache_record``) in a store (``cache_store``:
a diskcache folder shared by threads and processes, or memory). A :func:`cache_method`
answers from the store when it can (:meth:`CallCache.lookup`), else makes the call and
writes it at once (:meth:`CallCache.fill`): a killed run keeps every call that finished.

* **Key**: canonical JSON of the method name, the backend's ``identity()`` (read once per
  backend: for another model make a new backend) and the effective arguments.
* **Samples**: each ``ot.repeat`` copy's sampling key is bound to one sample for good; a
  new key takes the first sample no other key holds, or calls the model; outside repeats a
  call reads the first sample. Values are JSON; exceptions are not cached; identical calls
  in flight share one model call.
* **Modes**: ``"read_write"`` (default), ``"replay"`` (a miss raises ``CacheMiss``),
  ``"record"`` (always call, overwrite), ``"off"``.

Example:
    >>> FakeBackend(default_reply="blue", cache="/tmp/exp1").register()  # doctest: +SKIP
    >>> ot.run(llm.generate_text("Sky color?"))  # computed once, then read  # doctest: +SKIP
    'blue'
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
T = TypeVar("T")
Mode = Literal["read_write", "replay", "record", "off"]
_Path = str | os.PathLike[str]
_MODES: tuple[str, ...] = get_args(Mode)
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

    Example:
        >>> cache = CallCache("/tmp/exp1", mode="replay")  # doctest: +SKIP
        >>> FakeBackend(default_reply="x", cache=cache).register()  # doctest: +SKIP
        >>> cache.stats()  # doctest: +SKIP
        {'hits': 0, 'misses': 0, 'writes': 0, 'shared': 0, 'entries': 12, 'bytes': 57344}
    """

    def __init__(self, directory: _Path | Store, *, mode: Mode = "read_write"):
        _check_mode(mode)  # before the folder is made
        store = DiskStore(directory) if isinstance(directory, str | os.PathLike) else directory
        self._store: Store = store
        self.directory: str | None = store.directory
        self.mode = mode
        self._memo: dict[tuple[Key, str], str] = {}
        self._inflight: dict[tuple[Key, str], asyncio.Future[str]] = {}  # shared calls
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
        return (functools.partial(CallCache, mode=self._mode), (self.directory,))

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
        """The result of a call :meth:`lookup` missed, written before it is returned.

        A sample nobody holds, else an identical call in flight's, else the model's
        (``CacheMiss`` in replay mode).
        """
        if self._mode == "off":
            return await call.spec.fn(call.backend, *call.args, **call.kwargs)
        if not self._recording:
            if (sample := self._claim(call)) is not None:
                self.hits += 1
                annotate(cache_hit=True)
                self._memo[call.key, call.slot] = sample
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
        loop, mkey = asyncio.get_running_loop(), (call.key, call.slot)
        # Only a call of this loop can be awaited: one left by a loop that is gone (a run
        # stopped mid-call) or by another thread's loop is ignored (and replaced).
        while (fut := self._inflight.get(mkey)) is not None and fut.get_loop() is loop:
            self.shared += 1
            try:
                return decode(await asyncio.shield(fut))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not fut.cancelled() or (task is not None and task.cancelling()):
                    raise  # else the call we waited on was cancelled: make it ourselves
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

    def _claim(self, call: Call) -> str | None:
        """Bind the call's sampling key to a sample nobody holds, if any; return it."""
        text = self._store.read(call.key)  # take the write lock only if there may be one
        if text is None or Record.parse(text, call.key).claimable(call.slot) is None:
            return None

        def claim(record: Record) -> str | None:
            if (i := record.claimable(call.slot)) is None:
                return None
            record.bindings[call.slot] = i
            return record.samples[i]

        return self._edit(call.key, None, claim)

    def _edit(self, key: Key, new: str | None, edit: Callable[[Record], T | None]) -> T | None:
        """``edit`` the record at ``key`` (a new one of call ``new`` if absent, or none if
        ``new`` is None) in one transaction; return its result (``None``: nothing written)."""
        out: list[T | None] = [None]

        def change(old: str | None) -> str | None:
            if old is None and new is None:
                return None
            record = Record(new) if old is None else Record.parse(old, key)  # type: ignore[arg-type]
            out[0] = edit(record)
            return None if out[0] is None else record.dump()

        self._store.update(key, change)
        return out[0]

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

        def put(record: Record) -> tuple[Record, int, bool]:
            return (record, *record.bind(call.slot, sample, self._recording))

        record, i, own = self._edit(call.key, call.call_json, put)  # type: ignore[misc]
        for slot, j in record.bindings.items():  # what recording rewrote is stale here
            if j == i:
                self._memo.pop((call.key, slot), None)
        self.writes += 1
        return record.samples[i], own

    # --- inspection and maintenance -------------------------------------------------

    def _entries(self, match: Mapping[str, Any]) -> Iterator[tuple[Key, Record, Any]]:
        for key, text in self._store.items():
            ident = (record := Record.parse(text, key)).identity()
            if all(ident.get(k) == v for k, v in match.items()):
                yield key, record, ident

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
        """Delete (and count) the entries of backends with these identity fields.

        Example: ``cache.drop(provider="openai", model="gpt-4o-mini")``.
        """
        if not match:
            raise ValueError("drop() needs at least one identity field, e.g. model='...'.")
        keys = [key for key, _, _ in self._entries(match)]
        self._store.delete(keys)
        self._memo.clear()
        return len(keys)

    def records(self, **match: Any) -> Iterator[dict[str, Any]]:
        """Each cached call as JSON data, as exported: ``{"key", "call", "samples", "slots"}``."""
        return (record.export() for _, record, _ in self._entries(match))

    def export_jsonl(self, path: _Path, **match: Any) -> int:
        """Write (atomically) the entries of the backends matching ``match``; count them."""
        path = os.fspath(path)
        tmp, count = f"{path}.tmp{os.getpid()}", 0
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps({"format": EXPORT_FORMAT}) + "\n")
                for count, rec in enumerate(self.records(**match), start=1):  # noqa: B007
                    f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)  # e.g. a corrupt entry: leave no half-written file behind
            raise
        return count

    def import_jsonl(self, path: _Path) -> int:
        """Merge the entries of a file :meth:`export_jsonl` wrote; return their count.

        The file adds samples, and binds only keys not bound here; an edited line is refused.
        """
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
        """The problems of the store and of every entry (``[]`` if none); ``fix`` deletes."""
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


def _json_line(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as e:
        raise CacheError(f"{where}: not JSON ({e}); the file is truncated or was edited.") from None


class SimpleFunctionCache(CallCache):
    """An in-memory call cache saved to and loaded from one file, as in the reference.

    A :class:`CallCache` on a ``MemoryStore``; the file is the JSON-lines export. Prefer
    :class:`CallCache` for long runs: this one loses what was not saved.

    Example:
        >>> cache = SimpleFunctionCache(cache_filename="/tmp/exp1.jsonl")  # doctest: +SKIP
        >>> cache.load()  # doctest: +SKIP
        >>> backend = FakeBackend(default_reply="x", cache=cache)  # doctest: +SKIP
        >>> cache.save()  # doctest: +SKIP
    """

    def __init__(self, cache_filename: _Path | None = None, *, mode: Mode = "read_write"):
        super().__init__(MemoryStore(), mode=mode)
        self.cache_filename = cache_filename

    def _location(self) -> Any:
        return self.cache_filename

    def save(self, cache_filename: _Path | None = None, overwrite: bool = True) -> int:
        """Write every entry to the file; return how many."""
        path = self._path(cache_filename)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path!r} exists; pass overwrite=True to replace it.")
        return self.export_jsonl(path)

    def load(self, cache_filename: _Path | None = None) -> int:
        """Merge the entries saved in the file; return how many."""
        return self.import_jsonl(self._path(cache_filename))

    def _path(self, cache_filename: _Path | None) -> str:
        if (path := cache_filename or self.cache_filename) is None:
            raise ValueError("no file: pass cache_filename here or to SimpleFunctionCache().")
        return os.fspath(path)


def _check_mode(mode: Any) -> None:
    if mode not in _MODES:
        raise ValueError(
            f"mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}. Use "
            "'replay' to forbid model calls, 'record' to recompute, 'off' to bypass the cache."
        )


def open_cache(cache: CallCache | _Path) -> CallCache:
    """The cache a backend's ``cache=`` names: the object itself, or a folder to open."""
    if isinstance(cache, CallCache):
        return cache
    if isinstance(cache, str | os.PathLike):
        return CallCache(cache)
    got = f"{type(cache).__name__}: {cache!r:.80}"
    raise TypeError(f"cache= takes a CallCache or a folder path, got {got}.")


def cache_method(
    name: str | None = None, *, is_sampled: bool = False, ignore_args: Iterable[str] = ()
) -> Callable[[F], F]:
    """Cache an async backend method in ``self.cache`` (no cache: call straight through).

    Put it outermost, above batching and retries, so that hits skip both.

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

    def decorate(fn: F) -> F:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"cache_method decorates async methods; {fn.__qualname__} is not.")
        spec = MethodSpec(fn, name or fn.__qualname__, is_sampled, ignore_args)

        @functools.wraps(fn)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if (cache := self.cache) is None:
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
        return wrapper  # type: ignore[return-value]

    return decorate
