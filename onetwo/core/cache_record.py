"""A cached call: its key, the call it stands for, its samples and their bindings.

A :class:`Record` holds a call's **call** JSON (backend ``identity()``, method, effective
arguments: :meth:`MethodSpec.call_json`), whose digest is its **key** (:func:`key_of`), its
**samples** (results, one JSON line each: :func:`encode`) and **bindings** (sampling key ->
sample index; ``""`` outside repeats; negative: a **claim**, a process computing it). Its
text starts with a CRC-32 of key, bindings and samples, checked on every read: damage is a
``CacheError``, never a wrong value. A replay (:func:`bound_sample`) parses one sample.

Example:
    >>> record = Record('{"backend":{},"method":"m","params":{}}')
    >>> record.bind("", encode("blue"), recording=False)
    (0, True)
    >>> decode(bound_sample(record.dump(Key("k")), "", Key("k")))
    'blue'

Non-JSON values are tagged (``{"__onetwo__": "tuple", "items": [...]}``); decoding never
unpickles nor imports (a class must be registered or in an imported module). In a key,
bytes and ``as_bytes()`` media are their SHA-256; in a value, bytes of ``BLOB_MIN`` or more
refer to a blob row stored once by digest.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import inspect
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii
from typing import Any, NewType

import pydantic

from onetwo.core.builtin import _short
from onetwo.core.content import Chunk, ChunkList, Message
from onetwo.errors import CacheError

__all__ = [
    "ACCEPTED",
    "BLOB_MIN",
    "Call",
    "Key",
    "MethodSpec",
    "Record",
    "blob_key",
    "bound_sample",
    "damaged",
    "decode",
    "digest_of",
    "encode",
    "key_json",
    "key_of",
    "register_types",
    "sealed",
]

ACCEPTED = (
    "str, numbers, bools, None, lists, tuples, dicts, bytes, enums, pydantic models, "
    "and onetwo content (Chunk, ChunkList, Message)"
)
TAG = "__onetwo__"
BLOB_MIN = 4096  # bytes values this long are stored once, by digest (``blob_key``)
Key = NewType("Key", str)
"""A call's key: the first 128 bits of the SHA-256 of its call JSON, in hex."""
Blobs = Callable[[str], bytes]  # a blob's bytes by digest (``CallCache._blob``)


def digest_of(call_json: str) -> str:
    """The SHA-256 of a call JSON in hex (the key of an exported line)."""
    return hashlib.sha256(call_json.encode()).hexdigest()


def key_of(call_json: str) -> Key:
    """The key of a call, ``digest_of(call_json)[:32]``: the only place keys are made."""
    return Key(digest_of(call_json)[:32])


def blob_key(digest: str) -> Key:
    """The key of the blob row holding the bytes of this SHA-256 (base64)."""
    return Key(f"onetwo:blob:{digest}")


def damaged(what: str) -> CacheError:
    """The error for damage found in a cache folder: ``what``, then how to recover."""
    return CacheError(
        f"{what}. Restore the folder from a copy; if the cache still opens, export_jsonl() "
        "saves the entries that are readable, to import_jsonl() into a new folder "
        "(check(fix=True) deletes the damaged entries)."
    )


# --- values and key parts as JSON -----------------------------------------------------------

_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_allowed: dict[str, type] = {}
_schemas: dict[type, Any] = {}


class UnsupportedType(TypeError):
    """A value of a type the cache cannot encode (``.type_name`` says which)."""

    def __init__(self, value: Any) -> None:
        super().__init__(type(value).__name__)
        self.type_name = f"{type(value).__module__}.{type(value).__qualname__}"


def register_types(*classes: type) -> None:
    """Allow cached values of these pydantic models or enums (e.g. local classes) on load."""
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, pydantic.BaseModel | enum.Enum)):
            raise TypeError(f"register_types() takes pydantic models or enums, got {cls!r}.")
        _allowed[_path(cls)] = cls


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _tagged(value: Any, inner: Callable[[Any], Any], key: bool, blobs: Any = None) -> Any:
    """The tagged JSON of a non-JSON value (``key``: of a key part), its parts by ``inner``;
    a value's long bytes go to ``blobs`` (digest -> bytes)."""
    t = type(value)
    if isinstance(value, enum.Enum | pydantic.BaseModel) and not key:
        _allowed.setdefault(_path(t), t)
    if isinstance(value, enum.Enum):
        return {TAG: "enum", "class": _path(t), "value": inner(value.value)}
    if isinstance(value, pydantic.BaseModel):
        return {TAG: "pydantic", "class": _path(t), "data": inner(value.model_dump(mode="json"))}
    if t is tuple:  # (a key's tuples are JSON lists)
        return {TAG: "tuple", "items": [inner(v) for v in value]}
    if t is bytes and not key and (blobs is None or len(value) < BLOB_MIN):
        return {TAG: "bytes", "b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, bytes | bytearray) and (key or t is bytes):  # a key part, or a blob
        digest = hashlib.sha256(value).hexdigest()
        if not key:
            blobs[digest] = value
        return {TAG: "blob" if not key else "bytes", "sha256": digest, "len": len(value)}
    if key and hasattr(value, "as_bytes") and not isinstance(getattr(value, "content", 0), str):
        (data, mime), role = value.as_bytes(), getattr(value, "role", None)
        return {TAG: "media", "bytes": inner(data), "mime": mime, "role": role}
    if isinstance(value, Chunk):
        chunk = {TAG: "chunk", "content": inner(value.content), "role": inner(value.role)}
        return chunk if key else chunk | {"type": inner(value.content_type)}  # keys as before
    if isinstance(value, ChunkList):
        return {TAG: "chunk_list", "items": [inner(c) for c in value.chunks]}
    if isinstance(value, Message):
        return {TAG: "message", "role": inner(value.role), "content": inner(value.content)}
    if isinstance(value, type) and key:
        if (schema := _schemas.get(value)) is None:
            if issubclass(value, pydantic.BaseModel):
                schema = value.model_json_schema()  # changing a field changes the outputs
            elif value.__module__ != "builtins":
                raise UnsupportedType(value)
            _schemas[value] = schema = schema or ""
        return {TAG: "type", "class": _path(value), "schema": schema}
    raise UnsupportedType(value)


key_json: Callable[[Any], str] = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=lambda v: _tagged(v, lambda x: x, key=True)
).encode
"""Canonical JSON of a key part; raises ``TypeError`` (:class:`UnsupportedType`) if it has none."""


def _to_json(value: Any, blobs: dict[str, bytes]) -> Any:
    t = type(value)
    if t in (str, int, float, bool, type(None)):
        return value
    if t is list:
        return [_to_json(v, blobs) for v in value]
    if t is dict:
        if TAG not in value and all(type(k) is str for k in value):
            return {k: _to_json(v, blobs) for k, v in value.items()}
        return {
            TAG: "dict",
            "items": [[_to_json(k, blobs), _to_json(v, blobs)] for k, v in value.items()],
        }
    return _tagged(value, lambda v: _to_json(v, blobs), False, blobs)


def dump_json(data: Any) -> str:
    """Compact JSON on one line (newlines in strings are escaped)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode(value: Any, blobs: dict[str, bytes] | None = None) -> str:
    """A call's result as one line of JSON, long bytes put in ``blobs`` by digest (if given);
    raises :class:`UnsupportedType`, or ``RecursionError`` for a value nested too deeply."""
    return dump_json(_to_json(value, blobs))  # type: ignore[arg-type]


def decode(text: str, blob: Blobs | None = None) -> Any:
    """The result :func:`encode` wrote as ``text`` (``blob`` reads blobs); raises ``CacheError``."""
    try:
        if text[:1] == '"':  # a str, the usual case: no decoder to set up
            return text[1:-1] if "\\" not in text else _scanstring(text, 1)[0]
        return json.loads(text, object_hook=lambda o: _from_json(o, blob))
    except (ValueError, TypeError, KeyError, RecursionError, pydantic.ValidationError) as e:
        raise CacheError(
            f"a cached value could not be decoded: {type(e).__name__}: {e!s:.200}"
        ) from e


_REBUILD: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tuple": lambda o: tuple(o["items"]),
    "dict": lambda o: {k: v for k, v in o["items"]},
    "bytes": lambda o: base64.b64decode(o["b64"], validate=True),
    "chunk": lambda o: Chunk(o["content"], role=o["role"], content_type=o.get("type", "")),
    "chunk_list": lambda o: ChunkList(o["items"]),
    "message": lambda o: Message(o["role"], o["content"]),
    "enum": lambda o: _resolve(o["class"], enum.Enum)(o["value"]),
    "pydantic": lambda o: _resolve(o["class"], pydantic.BaseModel).model_validate(o["data"]),
}


def _from_json(obj: dict[str, Any], blob: Blobs | None) -> Any:
    if (tag := obj.get(TAG)) is None:
        return obj
    if tag == "blob" and blob is not None:
        return blob(obj["sha256"])
    if tag not in _REBUILD:
        raise CacheError(
            f"a cached value has an unknown tag {tag!r}; was it written by a newer onetwo?"
        )
    return _REBUILD[tag](obj)


def _resolve(path: Any, base: type) -> Any:
    cls = _allowed.get(path) if isinstance(path, str) else None
    if cls is None and isinstance(path, str):
        module_name, _, qualname = path.partition(":")
        obj: Any = sys.modules.get(module_name)
        for part in qualname.split(".") if obj is not None else ():
            # vars(), not getattr(): a module's __getattr__ could import or run code.
            obj = vars(obj).get(part) if hasattr(obj, "__dict__") else None
        cls = obj if isinstance(obj, type) else None
    if cls is None or not issubclass(cls, base):
        raise CacheError(
            f"a cached value is a {path!r}, which is not a {base.__name__} of an imported "
            "module. Import the module that defines it before replaying (the cache never "
            "imports), or allow the class with caching.register_types(cls)."
        )
    return cls


# --- records --------------------------------------------------------------------------------

_bindings_memo: dict[str, dict[str, int]] = {}  # records of one shape share their parse
_PID_BITS = 22  # Linux process ids are below 2**22
_PID_MASK = (1 << _PID_BITS) - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _verify(text: str, key: Key) -> None:
    """Raise ``CacheError`` unless the checksum of the ``text`` stored at ``key`` matches."""
    try:
        checked = text[8 : text.rindex("\n")]  # all but the call (whose check is the key)
        if zlib.crc32(f"{key}{checked}".encode()) == int(text[:8], 16):
            return
    except (ValueError, UnicodeEncodeError):
        pass
    raise damaged(
        f"the cache entry {key} is damaged (its checksum does not match: it changed on disk)"
    )


def sealed(body: str, key: Key) -> str:
    """The record ``body`` as stored at ``key``: the CRC-32 of the key and of all but the last
    line (the call), in hex, then ``body`` (with lone surrogates escaped)."""
    if not body.isascii():
        try:
            body.encode()
        except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot hold: escape it
            body = _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", body)
    checked = body[: body.rindex("\n")]
    return f"{zlib.crc32(f'{key}{checked}'.encode()):08x}{body}"


def bound_sample(text: str, slot: str, key: Key) -> str | None:
    """The sample a stored record binds to ``slot``, or ``None``: the replay hot path."""
    _verify(text, key)  # then read past the checksum (8 characters), copying nothing else
    if slot == "" and text.startswith('{"":0}\n', 8):  # the usual record: one call, one sample
        return text[15 : text.index("\n", 15)]
    try:
        end = text.index("\n", 8)
        if (bindings := _bindings_memo.get(head := text[8:end])) is None:
            if len(_bindings_memo) > 4096:
                _bindings_memo.clear()
            bindings = _bindings_memo[head] = json.loads(head)
        if (i := bindings.get(slot, -1)) < 0:  # unbound, or a claim
            return None
        for _ in range(i):
            end = text.index("\n", end + 1)
        return text[end + 1 : text.index("\n", end + 1)]
    except (ValueError, AttributeError, TypeError, RecursionError) as e:
        raise damaged(
            f"the cache entry {key} is damaged ({type(e).__name__}: {text[:200]!r})"
        ) from None


class Record:
    """One cached call: its call JSON, its encoded samples, and the rules binding them.

    A bound sampling key reads its sample for good (``record`` mode overwrites it); an unbound
    key may take (:meth:`claimable`) the first sample no other key holds; ``""`` reads the
    first without holding it. A key bound to ``-(t << 22 | pid)`` is claimed (:meth:`claim`)
    until ``t`` (ms since the epoch) by the process ``pid``, which computes its sample.
    """

    __slots__ = ("bindings", "call", "samples")

    def __init__(self, call: str, samples: list[str] | None = None, bindings: Any = None):
        self.call, self.samples = call, samples or []
        self.bindings = {} if bindings is None else bindings

    @classmethod
    def parse(cls, text: str, key: Key) -> Record:
        """The record stored as ``text`` at ``key``; ``CacheError`` if it is damaged."""
        _verify(text, key)
        lines = text[8:].split("\n")
        try:
            record = cls(lines[-1], lines[1:-1], json.loads(lines[0]))
            if key_of(record.call) != key:
                raise ValueError("the key does not match the call")
            if len(lines) < 2 or not record._valid():
                raise ValueError("unexpected structure")
        except (ValueError, RecursionError) as e:
            raise damaged(f"the cache entry {key} is damaged ({e})") from None
        return record

    def _valid(self) -> bool:
        n, bindings = len(self.samples), self.bindings
        return isinstance(bindings, dict) and all(
            type(i) is int and i < n for i in bindings.values()
        )

    def dump(self, key: Key) -> str:
        """The text stored at ``key``: a checksum, then bindings, samples, call, a line each."""
        return sealed("\n".join([dump_json(self.bindings), *self.samples, self.call]), key)

    def identity(self) -> dict[str, Any]:
        """The identity of the backend that made the call."""
        try:
            data = json.loads(self.call)
        except (ValueError, RecursionError):
            data = None
        if not (isinstance(data, dict) and isinstance(data.get("backend"), dict)):
            raise CacheError(f"a cache entry's call is not a call: {self.call:.200}")
        return data["backend"]

    def claimable(self, slot: str) -> int | None:
        """The sample ``slot`` would read: its binding, else one nobody holds, else None."""
        if (i := self.bindings.get(slot, -1)) >= 0 or not self.samples:
            return i if i >= 0 else None
        held = {j for s, j in self.bindings.items() if s} if slot else ()
        return next((j for j in range(len(self.samples)) if j not in held), None)

    def held(self, slot: str, now: float, mine: int, alive: Callable[[int], bool]) -> float | None:
        """The end (seconds since the epoch) of the claim on ``slot``, if it is not ``mine``,
        has not ended and its process is ``alive``; else ``None``."""
        if (i := self.bindings.get(slot, 0)) < 0 and i != mine:
            until = (-i >> _PID_BITS) / 1000
            if until > now and alive(-i & _PID_MASK):
                return until
        return None

    def claim(self, slot: str, until: float) -> int:
        """Claim ``slot`` for this process until ``until`` (seconds since the epoch)."""
        self.bindings[slot] = -((int(until * 1000) << _PID_BITS) | os.getpid() & _PID_MASK or 1)
        return self.bindings[slot]

    def release(self, slot: str, mine: int) -> bool | None:
        """Drop the claim ``mine`` on ``slot``: ``True`` if it was there (else ``None``)."""
        if self.bindings.get(slot) != mine:
            return None
        del self.bindings[slot]
        return True

    def bind(self, slot: str, sample: str, recording: bool) -> tuple[int, bool]:
        """Store ``sample`` for ``slot``; return (the index bound, whether it is ours: not if
        ``slot`` was bound meanwhile, by another process; ours is then kept unbound)."""
        samples, i = self.samples, self.bindings.get(slot, -1)
        if i < 0 and slot == "" and samples:  # unbound (or claimed): "" reads the first
            i = 0
        own = i < 0 or recording
        if i < 0:
            samples.append(sample)
            i = len(samples) - 1
        elif recording:
            samples[i] = sample
        elif sample not in samples:
            samples.append(sample)
        self.bindings[slot] = i
        return i, own

    def merge_into(self, record: Record) -> Record:
        """Add this record's samples to ``record``, and its bindings of keys not bound there."""
        record.samples += [s for s in dict.fromkeys(self.samples) if s not in record.samples]
        for slot, i in self.bindings.items():
            if record.bindings.get(slot, -1) < 0:
                record.bindings[slot] = record.samples.index(self.samples[i])
        return record

    def export(self, blob: Blobs) -> dict[str, Any]:
        """The exported form: ``{"key", "call", "samples", "slots"}``, samples as JSON data
        (blobs written out, claims left out)."""
        samples = [json.loads(s, object_hook=lambda o: _inline(o, blob)) for s in self.samples]
        call, slots = json.loads(self.call), {s: i for s, i in self.bindings.items() if i >= 0}
        return {"key": digest_of(self.call), "call": call, "samples": samples, "slots": slots}

    @classmethod
    def from_export(cls, obj: Any, where: str) -> tuple[Key, Record]:
        """The key and record of an exported line; ``CacheError`` naming ``where``."""
        try:
            samples = [dump_json(s) for s in obj["samples"]]
            record = cls(key_json(obj["call"]), samples, dict(obj["slots"]))
            record.identity()
            valid = record._valid() and min(record.bindings.values(), default=0) >= 0
            valid = valid and isinstance(obj["key"], str)
        except (TypeError, ValueError, KeyError, RecursionError, CacheError):
            valid = False
        if not valid:
            raise CacheError(f"{where}: not a valid cache entry.")
        if digest_of(record.call) != obj["key"]:
            raise CacheError(f"{where}: the key does not match the call (edited or corrupt).")
        return key_of(record.call), record

    def problem(self, key: Key, blob: Blobs) -> str:
        """What is wrong with this record stored at ``key`` (``""`` if nothing)."""
        if key_of(self.call) != key:
            return "the key does not match the call"
        for sample in self.samples:
            try:
                decode(sample, blob)
            except CacheError as e:
                return str(e)
        return ""


def _inline(obj: dict[str, Any], blob: Blobs) -> Any:
    if obj.get(TAG) != "blob":
        return obj
    return {TAG: "bytes", "b64": base64.b64encode(blob(obj["sha256"])).decode("ascii")}


# --- calls: from a method's arguments to its key --------------------------------------------

_PLAIN: dict[type, Callable[[Any], str]] = {  # JSON of plain values, as key_json writes it
    str: encode_basestring_ascii,
    int: int.__repr__,
    float: lambda v: float.__repr__(v) if v - v == 0 else key_json(v),  # NaN, inf
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
}


def _identity(backend: Any) -> tuple[str, str]:
    """A backend's ``identity()`` as (key JSON, ``provider:model``), once per instance."""
    memo = backend.__dict__.get("_onetwo_cache_identity")
    if memo is not None and memo[0] == id(backend):  # not a copy (whose model may differ)
        return memo[1]
    get = getattr(backend, "identity", None)
    data = dict(get()) if get is not None else {"class": type(backend).__qualname__}
    try:
        text = key_json(data)
    except (TypeError, ValueError) as e:
        raise CacheError(
            f"{type(backend).__name__}.identity() returned {data!r:.200}, which has no "
            f"stable cache key ({e}). Identity values must be {ACCEPTED}."
        ) from None
    short = ":".join(str(data[k]) for k in ("provider", "model") if k in data)
    backend.__dict__["_onetwo_cache_identity"] = (id(backend), (text, short))
    return text, short


class Call:
    """A call the cache must fill (:meth:`CallCache.fill`): what makes and stores it."""

    __slots__ = ("args", "backend", "call_json", "key", "kwargs", "slot", "spec")

    def __init__(
        self, spec: MethodSpec, backend: Any, args: Any, kwargs: Any, text: str, slot: str
    ):
        self.spec, self.backend, self.args, self.kwargs = spec, backend, args, kwargs
        self.call_json, self.key, self.slot = text, key_of(text), slot

    def describe(self) -> str:
        """``name(non-default arguments) on provider:model (sampling key '3')``."""
        spec, short = self.spec, _identity(self.backend)[1]
        eff = spec.bind(self.args, self.kwargs) or {}
        shown = [
            f"{k}={_short(v, 60)}"
            for k, v in eff.items()
            if spec.defaults.get(k, inspect.Parameter.empty) is not v
        ]
        where = f" on {short}" if short else ""
        sample = f" (sampling key {self.slot!r})" if self.slot else ""
        return f"{spec.name}({', '.join(shown)}){where}{sample}"


class MethodSpec:
    """What ``cache_method`` learns once from a method's signature, to write its calls' JSON:
    plain arguments (str, int, float, bool, None) fill a per-shape template of the params JSON;
    others are bound with ``inspect`` and encoded by :func:`key_json` (the same text)."""

    def __init__(self, fn: Callable[..., Any], name: str, is_sampled: bool, ignore: Iterable[str]):
        self.fn, self.name, self.is_sampled = fn, name, is_sampled
        self.sig = inspect.signature(fn)
        params = list(self.sig.parameters.values())[1:]  # after self
        self.names = frozenset(p.name for p in params)
        if isinstance(ignore, str):  # a str is an iterable of one-letter names
            raise TypeError(
                f"ignore_args of {fn.__qualname__} takes a list of argument names, got the "
                f"str {ignore!r}; write ignore_args=[{ignore!r}]."
            )
        if (ignored := frozenset(ignore)) - self.names:
            raise ValueError(
                f"ignore_args names {sorted(ignored - self.names)}, which "
                f"{fn.__qualname__} does not have; its parameters are {sorted(self.names)}."
            )
        self.ignore = ignored
        self.simple = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params)
        self.positional = tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}
        self.var_keyword = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
        self._prefixes: dict[str, str] = {}  # by identity
        # Per tuple of given names: the constant texts around the given values, their names.
        self._shapes: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]] | None] = {}

    def call_json(self, backend: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """The call JSON of these arguments (see :class:`Record`); ``None`` if they don't bind."""
        if (params := self._plain_params(args, kwargs)) is None:
            if (eff := self.bind(args, kwargs)) is None:
                return None
            try:
                params = key_json(eff)
            except (TypeError, ValueError, RecursionError):
                raise self._key_error(eff) from None
        ident = _identity(backend)[0]
        if (prefix := self._prefixes.get(ident)) is None:
            prefix = self._prefixes[ident] = (
                f'{{"backend":{ident},"method":{json.dumps(self.name)},"params":'
            )
        return prefix + params + "}"

    def _plain_params(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        # The text key_json(self.bind(...)) gives, for plain values only; else None.
        if args:
            if len(args) > len(self.positional):
                return None
            given = dict(zip(self.positional, args))
            if kwargs and not given.keys().isdisjoint(kwargs):
                return None
            kwargs = given | kwargs if kwargs else given
        try:
            shape = self._shapes[names := tuple(kwargs)]
        except KeyError:
            shape = self._shape(names)
        if shape is None:
            return None
        texts, slots = shape
        out = texts[0]
        for name, text in zip(slots, texts[1:]):
            if (write := _PLAIN.get(type(value := kwargs[name]))) is None:
                return None
            out += write(value) + text
        return out

    def _shape(self, names: tuple[str, ...]) -> Any:
        shape, given = None, set(names)
        if self.simple and given <= self.names and self.defaults.keys() | given >= self.names:
            try:
                texts, slots, text = [], [], "{"
                for name in sorted(self.names - self.ignore):
                    text += encode_basestring_ascii(name) + ":"
                    if name in given:
                        texts.append(text)
                        slots.append(name)
                        text = ","
                    else:
                        text += key_json(self.defaults[name]) + ","
                texts.append("{}" if text == "{" else text[:-1] + "}")
                shape = (tuple(texts), tuple(slots))
            except (TypeError, ValueError):  # a default with no key: the slow path says so
                pass
        if len(self._shapes) < 256:
            self._shapes[names] = shape
        return shape

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """The effective arguments (defaults applied, ignored ones left out), or ``None``."""
        try:
            bound = self.sig.bind(None, *args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        eff = dict(list(bound.arguments.items())[1:])
        if self.var_keyword is not None:
            eff.update(eff.pop(self.var_keyword))
        return {k: v for k, v in eff.items() if k not in self.ignore}

    def _key_error(self, eff: dict[str, Any]) -> CacheError:
        for arg, value in eff.items():
            try:
                key_json(value)
            except (TypeError, ValueError, RecursionError) as e:
                what = e.type_name if isinstance(e, UnsupportedType) else f"value ({e!r:.80})"
                return CacheError(
                    f"cannot cache {self.name}: its argument `{arg}` is a {what}, which has no "
                    f"stable cache key. The cache accepts {ACCEPTED}. Pass one of those, or "
                    f"leave the argument out of the key with cache_method(ignore_args=['{arg}'])."
                )
        return CacheError(f"cannot build a cache key for {self.name}: {eff!r:.200}.")
