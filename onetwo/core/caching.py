"""The call cache: every model call computed once, replayed exactly, from a shared folder.

A :class:`CallCache` is a folder (a ``diskcache`` SQLite database) that several threads
and processes may use at once. A backend given ``cache=`` answers each call of a method
decorated with :func:`cache_method` from the folder when it can, and writes every result
it computes at once, so a run that crashes or is killed keeps everything that finished.

* **Key**: SHA-256 of the canonical JSON of the method name, the backend's
  ``identity()`` (provider, model, output-affecting settings) and every effective
  argument, defaults applied. Unsupported argument types raise ``CacheError``.
* **Samples**: a key holds a list of samples. Inside ``ot.repeat`` each copy has a
  sampling key (``"0"``, ``"3#5"``...) which the cache binds to one sample, for good: a
  replay gives every copy the sample it had, whatever order the copies finish in. A new
  key takes the first sample no other key holds, or calls the model. Outside any repeat
  (key ``""``) a call reads the first sample without using it up, so wrapping it in
  ``repeat`` later reuses it.
* **Values** are stored as JSON text (see ``onetwo.core._cache_codec``): loading never
  unpickles and never imports. ``None`` is a value; exceptions are never cached.
* Identical calls in flight at the same time share one model call.
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

Good to know:

* A write is one SQLite transaction in WAL mode with ``synchronous=NORMAL``: a killed
  process loses only the calls still in flight; a power cut may also lose the last
  few writes, never the database.
* A process remembers the values it has read (bindings never change, except in
  ``record`` mode): another process recording over them is seen after a restart.
* ``identity()`` is read once per backend instance: change the model by making a new
  backend (or a copy), not by assigning to an existing one.

Inside: this module holds the modes and the call path (hit, claim, share, make, write);
``_cache_keys`` builds keys, ``_cache_codec`` encodes values, ``_cache_store`` opens the
folder safely, and ``_cache_records`` works on whole entries (drop, export/import, check).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar, get_args

from onetwo.core import _cache_records as _records
from onetwo.core import tracing
from onetwo.core._cache_codec import UnsupportedType, decode_value, encode_value, register_types
from onetwo.core._cache_keys import ACCEPTED, Call, MethodSpec
from onetwo.core._cache_store import MemoryStore, open_disk_store
from onetwo.core.sampling import current_sampling_key
from onetwo.core.tracing import current_node as current_trace_node
from onetwo.errors import CacheError, CacheMiss

__all__ = [
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

# Values read, by value key: a replayed run reads each once. Cleared when full, so a
# long-lived process never holds more than this many.
_MEMO_LIMIT = 200_000


class CallCache:
    """A persistent, content-addressed cache of backend calls in one folder.

    Args:
        directory: the folder (created if missing). Safe to share between threads and
            processes, and to copy to a colleague.
        mode: ``"read_write"``, ``"replay"``, ``"record"`` or ``"off"`` (see the module
            docstring); settable later through :attr:`mode`.

    Example:
        >>> cache = CallCache("/tmp/exp1", mode="replay")  # doctest: +SKIP
        >>> FakeBackend(default_reply="x", cache=cache).register()  # doctest: +SKIP
        >>> cache.stats()  # doctest: +SKIP
        {'hits': 0, 'misses': 0, 'writes': 0, 'shared': 0, 'entries': 12, 'bytes': 57344}
    """

    directory: str | None

    def __init__(self, directory: str | os.PathLike[str], *, mode: Mode = "read_write") -> None:
        self.directory = os.fspath(directory)
        _check_mode(mode)  # before the folder is made
        self._setup(open_disk_store(directory), mode)

    def _setup(self, store: Any, mode: Mode) -> None:
        self._store = store
        self.mode = mode
        self._memo: dict[str, str] = {}
        # Calls in flight, by value key, so that identical concurrent calls share one.
        self._inflight: dict[str, asyncio.Future[str]] = {}
        self.hits = self.misses = self.writes = self.shared = 0
        _records.check_format(store, self._location())

    @property
    def mode(self) -> Mode:
        """How calls use the cache; assign another mode to switch."""
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        _check_mode(mode)
        self._mode: Mode = mode
        self._off = mode == "off"
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

    # --- inspection and maintenance -------------------------------------------------

    def stats(self) -> dict[str, int]:
        """This object's hits, misses, writes, shared in-flight calls; the store's size.

        ``entries`` counts cached calls (each may hold several samples), ``bytes`` the
        database's size on disk.
        """
        return {
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
            "shared": self.shared,
            "entries": sum(n for _, n in _records.backend_counts(self._store)),
            "bytes": int(self._store.volume()),
        }

    def backends(self) -> list[dict[str, Any]]:
        """The backends with entries: ``[{"identity": {...}, "entries": n}, ...]``."""
        return [
            {"identity": ident, "entries": n} for ident, n in _records.backend_counts(self._store)
        ]

    def drop(self, **match: Any) -> int:
        """Delete the entries of the backends whose identity has all the given fields.

        Example: ``cache.drop(provider="openai", model="gpt-4o-mini")``. Returns the
        number of cached calls deleted.
        """
        try:
            return _records.drop(self._store, match)
        finally:
            self._memo.clear()

    def records(self, **match: Any) -> Iterator[dict[str, Any]]:
        """Each cached call as ``{"key", "call", "samples", "slots"}`` (JSON data).

        ``call`` holds ``backend`` (its identity), ``method`` and ``params``; samples
        are in their stored JSON form (tagged, not rebuilt into objects).
        """
        return _records.records(self._store, match)

    def export_jsonl(self, path: str | os.PathLike[str], **match: Any) -> int:
        """Write the entries (of the backends matching ``match``) to a JSON-lines file.

        The file is written to a temporary name and renamed, so it is never half
        written. Returns the number of entries written.
        """
        return _records.export_jsonl(self._store, os.fspath(path), match)

    def import_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Merge the entries of a file written by :meth:`export_jsonl`; return their count.

        Entries already here keep their samples and bindings; new samples are added and
        sampling keys not bound here take the file's binding. Every line's key is checked
        against its call, so an edited line is refused (``CacheError`` naming the line;
        the lines before it stay imported).
        """
        # Nothing remembered goes stale: an import never rebinds a key bound here.
        return _records.import_jsonl(self._store, os.fspath(path))

    def check(self, fix: bool = False) -> list[str]:
        """Check the database and every entry; return the problems found (``[]`` if none).

        With ``fix=True``, broken entries are deleted.
        """
        try:
            return _records.check(self._store, fix)
        finally:
            if fix:  # what it deleted must not be read from memory either
                self._memo.clear()

    # --- the call path --------------------------------------------------------------

    def _read(self, vkey: str) -> str | None:
        raw = self._store.read(vkey)
        if raw is not None:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[vkey] = raw
        return raw

    async def _miss(self, call: Call, fn: Callable[..., Any]) -> Any:
        """The result of a call the fast path did not find: claimed, shared or made."""
        if not self._recording:
            raw = self._claim(call)
            if raw is not None:
                self.hits += 1
                return decode_value(raw)
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
        while (fut := self._inflight.get(call.vkey)) is not None and fut.get_loop() is loop:
            self.shared += 1
            try:
                return decode_value(await asyncio.shield(fut))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not fut.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The call we waited on was cancelled, not us: make it ourselves.
        return await self._make(call, fn, loop)

    def _claim(self, call: Call) -> str | None:
        """Bind the call's sampling key to a sample nobody holds, if any; return it."""
        rkey, slot, store = "r:" + call.key, call.slot, self._store
        rec = _records.read_record(store, rkey)
        if rec is None or _records.slot_index(rec, slot) is None:
            return None
        with store.transact(retry=True):
            rec = _records.read_record(store, rkey)
            i = None if rec is None else _records.slot_index(rec, slot)
            if rec is None or i is None:
                return None
            rec["slots"][slot] = i
            store.set(rkey, _records.dump(rec), tag=call.ident.tag, retry=True)
            store.set(call.vkey, rec["samples"][i], tag=call.ident.tag, retry=True)
        return self._read(call.vkey)

    async def _make(self, call: Call, fn: Callable[..., Any], loop: Any) -> Any:
        """Call the model (once for every identical call in flight) and store the result."""
        vkey = call.vkey
        fut = self._inflight[vkey] = loop.create_future()
        try:
            value = await fn(call.backend, *call.args, **call.kwargs)
            stored, own = self._write(call, value)
        except BaseException as e:  # never cached: the callers sharing it get it too
            if isinstance(e, asyncio.CancelledError):
                fut.cancel()
            else:
                fut.set_exception(e)
                fut.exception()  # waiters re-raise it; don't log it as never retrieved
            raise
        finally:
            if self._inflight.get(vkey) is fut:
                del self._inflight[vkey]
        fut.set_result(stored)
        return value if own else decode_value(stored)

    def _write(self, call: Call, value: Any) -> tuple[str, bool]:
        """Store ``value`` for the call's sampling key; return (stored text, is it ours).

        It is not ours when another process bound this sampling key meanwhile: then its
        sample stays (replays must agree with what that process returned).
        """
        sample = _encode(call, value)
        key, slot, tag = call.key, call.slot, call.ident.tag
        rkey, store = "r:" + key, self._store
        with store.transact(retry=True):
            rec = _records.read_record(store, rkey)
            if rec is None:
                rec = _records.add_record(store, json.loads(call.call_json), tag)
            i, own = _put_sample(rec, slot, sample, self._recording)
            store.set(rkey, _records.dump(rec), tag=tag, retry=True)
            # Recording over a sample rewrites the value of every key bound to it.
            slots = rec["slots"]
            changed = [s for s, j in slots.items() if j == i] if self._recording else [slot]
            for s in changed:
                store.set(f"v:{key}:{s}", rec["samples"][i], tag=tag, retry=True)
                self._memo.pop(f"v:{key}:{s}", None)
        self.writes += 1
        return rec["samples"][i], own


def _encode(call: Call, value: Any) -> str:
    try:
        return encode_value(value)
    except UnsupportedType as e:
        raise CacheError(
            f"cannot cache the result of {call.describe()}: it is a {e.type_name}, and the "
            f"cache stores {ACCEPTED}. Return one of those from the backend method, or run "
            "without a cache."
        ) from None


def _put_sample(rec: dict[str, Any], slot: str, sample: str, recording: bool) -> tuple[int, bool]:
    """Bind ``slot`` in ``rec`` to ``sample``; return (its index, whether ours is bound)."""
    samples, slots = rec["samples"], rec["slots"]
    i = slots.get(slot)
    if i is None and slot == "" and samples:
        i = 0  # outside repeats, a call reads the first sample
    if i is None:
        samples.append(sample)
        i = len(samples) - 1
    elif recording:
        samples[i] = sample
    else:  # bound meanwhile: keep that sample; ours stays free for other sampling keys
        if sample not in samples:
            samples.append(sample)
        slots[slot] = i
        return i, False
    slots[slot] = i
    return i, True


class SimpleFunctionCache(CallCache):
    """An in-memory call cache saved to and loaded from one file, as in the reference.

    Same keys, samples and modes as :class:`CallCache`; the file is the JSON-lines
    export, written atomically. Prefer :class:`CallCache` for long runs: it writes
    every call as it completes, while this one loses what was not saved.

    Example:
        >>> cache = SimpleFunctionCache(cache_filename="/tmp/exp1.jsonl")  # doctest: +SKIP
        >>> cache.load()  # doctest: +SKIP
        >>> backend = FakeBackend(default_reply="x", cache=cache)  # doctest: +SKIP
        >>> cache.save()  # doctest: +SKIP
    """

    def __init__(
        self, cache_filename: str | os.PathLike[str] | None = None, *, mode: Mode = "read_write"
    ) -> None:
        self.directory = None
        self.cache_filename = cache_filename
        self._setup(MemoryStore(), mode)

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


# --- the decorator ------------------------------------------------------------------------


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
            try:
                off = cache._off
            except AttributeError:
                raise _not_a_cache(self, cache) from None
            if off:
                return await fn(self, *args, **kwargs)
            made = spec.key_of(self, args, kwargs)
            if made is None:  # the arguments do not bind: let the method raise
                return await fn(self, *args, **kwargs)
            if not cache._recording:
                vkey = f"v:{made[2]}:{current_sampling_key()}" if is_sampled else f"v:{made[2]}:"
                raw = cache._memo.get(vkey) or cache._read(vkey)
                if raw is not None:
                    cache.hits += 1
                    if current_trace_node.get() is not None:
                        tracing.annotate(cache_hit=True)
                    return raw[1:] if raw[0] == "s" else decode_value(raw)
            if current_trace_node.get() is not None:
                tracing.annotate(cache_hit=False)
            return await cache._miss(spec.make_call(self, args, kwargs, made), fn)

        wrapper.__onetwo_cache_spec__ = spec  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _not_a_cache(backend: Any, cache: Any) -> TypeError:
    return TypeError(
        f"{type(backend).__name__}.cache is a {type(cache).__name__} ({cache!r:.80}); it must be "
        "a CallCache or None. Pass cache= to the backend's constructor (a CallCache or a "
        "folder path), or assign caching.open_cache(folder)."
    )
