"""The call cache's entries in its store, and the operations on whole entries.

Package-private helper of ``onetwo.core.caching``: listing and dropping a backend's
entries, export and import as JSON lines, and the integrity check. The call path (hits,
misses, writes) stays in ``caching``; both share the layout below.

A store (``_cache_store.DiskStore`` or ``MemoryStore``) holds str keys:

* ``r:<key>``: the *record* of a call, JSON ``{"call", "samples", "slots"}``: the call
  (backend identity, method, params) that ``<key>`` is the SHA-256 of; its samples, each
  an encoded value (``"s" + text`` or ``"j" + JSON``, see ``_cache_codec``); and
  ``slots``, sampling key -> index of the sample it is bound to (``""`` outside repeats).
* ``v:<key>:<slot>``: a copy of the bound sample, so that a hit is one point read.
* ``n:<tag>``: how many records the backend with identity tag ``<tag>`` has.
* ``onetwo:backends``: JSON, identity tag -> identity; ``onetwo:format``: the version.

Every ``r:``/``v:`` row carries its backend's identity tag as its diskcache tag, which is
what lets :func:`drop` evict one backend's entries at once.

Example:
    >>> from onetwo.core._cache_store import MemoryStore
    >>> store = MemoryStore()
    >>> check_format(store, "<memory>")  # a fresh store gets the format marker
    >>> backend_counts(store)
    []
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from onetwo.core._cache_codec import key_json
from onetwo.core._cache_keys import identity_tag
from onetwo.errors import CacheError

__all__ = [
    "FORMAT",
    "add_record",
    "backend_counts",
    "check",
    "check_format",
    "drop",
    "dump",
    "export_jsonl",
    "import_jsonl",
    "read_record",
    "records",
    "slot_index",
]

FORMAT = "onetwo-call-cache/1"
_FORMAT_KEY = "onetwo:format"
_BACKENDS_KEY = "onetwo:backends"  # JSON: identity tag -> identity

Store = Any  # DiskStore or MemoryStore: the same small diskcache-like interface


def check_format(store: Store, location: object) -> None:
    """Mark a fresh store as ours; refuse one written by something else or another version."""
    fmt = store.get(_FORMAT_KEY)
    if fmt is None:
        if len(store):
            raise CacheError(
                f"{location!r} holds a diskcache that the onetwo call cache did not write; "
                "give the call cache a folder of its own."
            )
        store.set(_FORMAT_KEY, FORMAT)
    elif fmt != FORMAT:
        raise CacheError(
            f"the cache folder {location!r} has the format {fmt!r}, and this onetwo reads "
            f"{FORMAT!r}. Use the onetwo version that wrote it."
        )


# --- records ------------------------------------------------------------------------------


def read_record(store: Store, rkey: str) -> dict[str, Any] | None:
    """The record stored at ``rkey`` (``None`` if absent); raises ``CacheError`` if corrupt."""
    text = store.get(rkey)
    if text is None:
        return None
    try:
        rec = json.loads(text)
        if not _valid_record(rec):
            raise ValueError("unexpected structure")
    except ValueError as e:
        raise CacheError(
            f"the cache entry {rkey} is corrupt ({e}); run cache.check(fix=True) to delete "
            "broken entries."
        ) from None
    return rec


def dump(rec: dict[str, Any]) -> str:
    """The stored text of a record."""
    return json.dumps(rec, separators=(",", ":"))


def add_record(store: Store, call: dict[str, Any], tag: str) -> dict[str, Any]:
    """A new, empty record of ``call``, counted for its backend (which gets listed).

    Call it inside ``store.transact()``, and store the record there too.
    """
    store.incr("n:" + tag, retry=True)
    mapping = _backend_map(store)
    if tag not in mapping:
        mapping[tag] = call["backend"]
        store.set(_BACKENDS_KEY, json.dumps(mapping), retry=True)
    return {"call": call, "samples": [], "slots": {}}


def slot_index(rec: dict[str, Any], slot: str) -> int | None:
    """The sample ``slot`` reads: its binding, else the first one no other key holds."""
    samples, slots = rec["samples"], rec["slots"]
    i = slots.get(slot)
    if i is not None:
        return i
    if slot == "":
        return 0 if samples else None
    held = {j for s, j in slots.items() if s}
    return next((j for j in range(len(samples)) if j not in held), None)


def _valid_record(rec: Any) -> bool:
    if not isinstance(rec, dict) or not isinstance(rec.get("call"), dict):
        return False
    samples, slots = rec.get("samples"), rec.get("slots")
    return (
        isinstance(samples, list)
        and all(isinstance(s, str) and s[:1] in ("s", "j") for s in samples)
        and isinstance(slots, dict)
        and all(type(i) is int and 0 <= i < len(samples) for i in slots.values())
    )


def _key_of(call: Any) -> str:
    return hashlib.sha256(key_json(call).encode()).hexdigest()


# --- backends -----------------------------------------------------------------------------


def _backend_map(store: Store) -> dict[str, dict[str, Any]]:
    text = store.get(_BACKENDS_KEY)
    return json.loads(text) if text else {}


def backend_counts(store: Store) -> list[tuple[dict[str, Any], int]]:
    """Each backend with entries: ``(identity, number of records)``."""
    return [(ident, int(store.get("n:" + tag, 0))) for tag, ident in _backend_map(store).items()]


def drop(store: Store, match: Mapping[str, Any]) -> int:
    """Delete the records of the backends whose identity has the fields of ``match``."""
    if not match:
        raise ValueError("drop() needs at least one identity field, e.g. model='...'.")
    removed = 0
    for tag, ident in _backend_map(store).items():
        if _matches(ident, match):
            removed += int(store.get("n:" + tag, 0))
            store.evict(tag, retry=True)
            with store.transact(retry=True):
                store.delete("n:" + tag, retry=True)
                mapping = _backend_map(store)
                mapping.pop(tag, None)
                store.set(_BACKENDS_KEY, json.dumps(mapping), retry=True)
    return removed


def _matches(ident: Any, match: Mapping[str, Any]) -> bool:
    return not match or (
        isinstance(ident, dict) and all(ident.get(k) == v for k, v in match.items())
    )


# --- export and import ----------------------------------------------------------------------


def records(store: Store, match: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Each record (of the backends matching ``match``) as JSON data, samples decoded."""
    for rkey in store.iterkeys():
        if not rkey.startswith("r:"):
            continue
        rec = read_record(store, rkey)
        if rec is None or not _matches(rec["call"].get("backend"), match):
            continue
        yield {
            "key": rkey[2:],
            "call": rec["call"],
            "samples": [_sample_to_json(s) for s in rec["samples"]],
            "slots": rec["slots"],
        }


def export_jsonl(store: Store, path: str, match: Mapping[str, Any]) -> int:
    """Write a header line and the matching records to ``path``, atomically; count them."""
    tmp = f"{path}.tmp{os.getpid()}"
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps({"format": FORMAT}) + "\n")
            for rec in records(store, match):
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)  # e.g. a corrupt entry: leave no half-written file behind
        raise
    return count


def import_jsonl(store: Store, path: str) -> int:
    """Merge the records of a file written by :func:`export_jsonl`; count them.

    Lines before a bad one stay imported; the error names the file and line.
    """
    count = 0
    with open(path, encoding="utf-8") as f:
        header = _json_line(f.readline(), f"{path}:1")
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CacheError(
                f"{path!r} is not a {FORMAT} export (its first line is not the header "
                "export_jsonl writes). Import a file written by CallCache.export_jsonl."
            )
        for lineno, line in enumerate(f, start=2):
            if line.strip():
                where = f"{path}:{lineno}"
                _import_record(store, _json_line(line, where), where)
                count += 1
    return count


def _import_record(store: Store, obj: Any, where: str) -> None:
    if not (isinstance(obj, dict) and isinstance(obj.get("key"), str)):
        raise CacheError(f"{where}: not a cache entry.")
    rec: dict[str, Any] = {
        "call": obj.get("call"),
        "samples": [_sample_from_json(s) for s in obj.get("samples") or ()],
        "slots": obj.get("slots"),
    }
    if not _valid_record(rec) or not isinstance(rec["call"].get("backend"), dict):
        raise CacheError(f"{where}: not a valid cache entry.")
    key = obj["key"]
    if _key_of(rec["call"]) != key:
        raise CacheError(f"{where}: the key does not match the call (edited or corrupt).")
    tag = identity_tag(key_json(rec["call"]["backend"]))
    rkey = "r:" + key
    with store.transact(retry=True):
        local = read_record(store, rkey) or add_record(store, rec["call"], tag)
        # Samples here keep their bindings; the file adds samples and unbound keys.
        samples, slots = local["samples"], local["slots"]
        for s in rec["samples"]:
            if s not in samples:
                samples.append(s)
        for slot, i in rec["slots"].items():
            if slot not in slots:
                slots[slot] = samples.index(rec["samples"][i])
                store.set(f"v:{key}:{slot}", samples[slots[slot]], tag=tag, retry=True)
        store.set(rkey, dump(local), tag=tag, retry=True)


def _json_line(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as e:
        raise CacheError(f"{where}: not JSON ({e}); the file is truncated or was edited.") from None


def _sample_to_json(sample: str) -> Any:
    return sample[1:] if sample[0] == "s" else json.loads(sample[1:])


def _sample_from_json(value: Any) -> str:
    if isinstance(value, str):
        return "s" + value
    return "j" + json.dumps(value, separators=(",", ":"))


# --- integrity --------------------------------------------------------------------------------


def check(store: Store, fix: bool) -> list[str]:
    """The problems of the database and of every entry (``[]`` if none); ``fix`` repairs."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # diskcache reports problems as warnings
        problems = [str(w.message) for w in store.check(fix=fix, retry=True)]
    counts: dict[str, int] = {}
    for key in list(store.iterkeys()):
        problem = _check_key(store, key, counts)
        if problem:
            problems.append(f"{key}: {problem}")
            if fix:
                store.delete(key, retry=True)
    for ident, n in backend_counts(store):
        tag = identity_tag(key_json(ident))
        if counts.get(tag, 0) != n:
            problems.append(f"n:{tag}: counts {n} entries, found {counts.get(tag, 0)}")
            if fix:
                store.set("n:" + tag, counts.get(tag, 0), retry=True)
    return problems


def _check_key(store: Store, key: str, counts: dict[str, int]) -> str:
    """What is wrong with one key ("" if nothing); counts the records per backend tag."""
    if key.startswith("r:"):
        try:
            rec = read_record(store, key)
        except CacheError as e:
            return str(e)
        if rec is None:
            return "vanished"
        if _key_of(rec["call"]) != key[2:]:
            return "the key does not match the call"
        tag = identity_tag(key_json(rec["call"].get("backend")))
        counts[tag] = counts.get(tag, 0) + 1
        for slot, i in rec["slots"].items():
            if store.get(f"v:{key[2:]}:{slot}") != rec["samples"][i]:
                return f"the value of sampling key {slot!r} is missing or differs"
    elif key.startswith("v:"):
        k, _, _ = key[2:].partition(":")
        if store.get("r:" + k) is None:
            return "a value without its entry"
    return ""
