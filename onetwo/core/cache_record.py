"""A cached call: its key, the call it stands for, its samples and their bindings.

A :class:`Record` is what the call cache keeps per call, in one piece:

* **call**: the canonical JSON (sorted keys, no spaces, ASCII) of
  ``{"backend": <identity>, "method": <name>, "params": <effective arguments>}``;
* **key** (:data:`Key`): from the SHA-256 of that text, made by :func:`key_of` only;
* **samples**: the values the call returned, each as one line of JSON (:func:`encode`);
* **bindings**: sampling key -> index of the sample it reads (``""`` outside repeats).

It is stored as text, one line each: the bindings, the samples, the call. The hot path
(:func:`bound_sample`) reads one sample without parsing the rest. The JSON-lines export
holds the same record as ``{"key", "call", "samples", "slots"}``.

Example:
    >>> record = Record('{"backend":{},"method":"m","params":{}}')
    >>> record.bind("", encode("blue"), recording=False)
    (0, True)
    >>> decode(bound_sample(record.dump(), ""))
    'blue'

Values are JSON: what JSON cannot say exactly is tagged (``{"__onetwo__": "tuple",
"items": [...]}``, ``"bytes"``, ``"dict"`` with non-str keys, ``"enum"``, ``"pydantic"``,
``"chunk"``, ``"chunk_list"``, ``"message"``). Decoding never unpickles and never imports:
a tagged class is one this process stored or :func:`register_types` was given, or is found
in an already imported module (through ``__dict__``, so no module ``__getattr__`` runs),
and must be a pydantic ``BaseModel`` (resp. ``Enum``) subclass.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import inspect
import json
import sys
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii
from typing import Any, NewType

import pydantic

from onetwo.core.content import Chunk, ChunkList, Message
from onetwo.errors import CacheError

__all__ = [
    "ACCEPTED",
    "Call",
    "Key",
    "MethodSpec",
    "Record",
    "bound_sample",
    "decode",
    "digest_of",
    "encode",
    "key_json",
    "key_of",
    "register_types",
]

ACCEPTED = (
    "str, numbers, bools, None, lists, tuples, dicts, bytes, enums, pydantic models, "
    "and onetwo content (Chunk, ChunkList, Message)"
)
TAG = "__onetwo__"

Key = NewType("Key", str)
"""A call's cache key: the first 128 bits of the SHA-256 of its call JSON, in hex."""


def digest_of(call_json: str) -> str:
    """The SHA-256 of a call, in hex: the key of an exported line, and :data:`Key`'s source."""
    return hashlib.sha256(call_json.encode()).hexdigest()


def key_of(call_json: str) -> Key:
    """The key of a call (``digest_of(call_json)[:32]``): the only place keys are made."""
    return hashlib.sha256(call_json.encode()).hexdigest()[:32]  # type: ignore[return-value]


# --- encoding ---------------------------------------------------------------------------

_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_allowed: dict[str, type] = {}
_schemas: dict[type, Any] = {}


class UnsupportedType(TypeError):
    """A value of a type the cache cannot encode (``.type_name`` says which)."""

    def __init__(self, value: Any) -> None:
        super().__init__(type(value).__name__)
        self.type_name = f"{type(value).__module__}.{type(value).__qualname__}"


def register_types(*classes: type) -> None:
    """Allow cached values of these pydantic models or enums to be rebuilt on load.

    Only needed for classes that cannot be found by name in an imported module, such as
    classes defined inside a function.
    """
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, pydantic.BaseModel | enum.Enum)):
            raise TypeError(f"register_types() takes pydantic models or enums, got {cls!r}.")
        _allowed[_path(cls)] = cls


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _key_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return {TAG: "enum", "class": _path(type(value)), "value": value.value}
    if isinstance(value, pydantic.BaseModel):
        return {TAG: "pydantic", "class": _path(type(value)), "data": value.model_dump(mode="json")}
    if isinstance(value, bytes | bytearray):
        return {TAG: "bytes", "sha256": hashlib.sha256(value).hexdigest(), "len": len(value)}
    if isinstance(value, type):
        schema = _schemas.get(value)
        if schema is None:
            if issubclass(value, pydantic.BaseModel):
                schema = value.model_json_schema()  # changing a field changes the outputs
            elif value.__module__ == "builtins":
                schema = ""
            else:
                raise UnsupportedType(value)
            _schemas[value] = schema
        return {TAG: "type", "class": _path(value), "schema": schema}
    return _content(value, lambda v: v)


def _content(value: Any, inner: Callable[[Any], Any]) -> Any:
    t = type(value)
    if t is Chunk:
        return {TAG: "chunk", "content": inner(value.content), "role": inner(value.role)}
    if t is ChunkList:
        return {TAG: "chunk_list", "items": [inner(c) for c in value.chunks]}
    if t is Message:
        return {TAG: "message", "role": inner(value.role), "content": inner(value.content)}
    raise UnsupportedType(value)


key_json: Callable[[Any], str] = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=_key_default
).encode
"""Canonical JSON of a key part; raises :class:`UnsupportedType` (or ``TypeError`` for
dict keys that are not str/int/float/bool/None) on anything else."""

_PLAIN = (str, int, float, bool, type(None))


def _to_json(value: Any) -> Any:
    t = type(value)
    if t in _PLAIN:
        return value
    if t is list:
        return [_to_json(v) for v in value]
    if t is dict:
        if TAG not in value and all(type(k) is str for k in value):
            return {k: _to_json(v) for k, v in value.items()}
        return {TAG: "dict", "items": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if t is tuple:
        return {TAG: "tuple", "items": [_to_json(v) for v in value]}
    if t is bytes:
        return {TAG: "bytes", "b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, enum.Enum):
        _allowed.setdefault(_path(t), t)
        return {TAG: "enum", "class": _path(t), "value": _to_json(value.value)}
    if isinstance(value, pydantic.BaseModel):
        _allowed.setdefault(_path(t), t)
        return {TAG: "pydantic", "class": _path(t), "data": _to_json(value.model_dump(mode="json"))}
    return _content(value, _to_json)


def dump_json(data: Any) -> str:
    """Compact one-line JSON (newlines inside strings are escaped)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode(value: Any) -> str:
    """A call's result as one line of JSON; raises :class:`UnsupportedType`."""
    return dump_json(_to_json(value))


def decode(text: str) -> Any:
    """The result :func:`encode` wrote as ``text``; raises ``CacheError``."""
    try:
        if text[:1] == '"':  # a str, the usual case: no JSON decoder set up
            return _scanstring(text, 1)[0]
        return json.loads(text, object_hook=_from_json)
    except (ValueError, TypeError, KeyError, pydantic.ValidationError) as e:
        raise CacheError(f"a cached value could not be decoded: {e}") from e


def _from_json(obj: dict[str, Any]) -> Any:
    tag = obj.get(TAG)
    if tag is None:
        return obj
    if tag in ("tuple", "dict", "bytes", "chunk", "chunk_list", "message"):
        return _REBUILD[tag](obj)
    if tag in ("enum", "pydantic"):
        base: type = enum.Enum if tag == "enum" else pydantic.BaseModel
        cls = _resolve(obj["class"], base)
        return cls(obj["value"]) if tag == "enum" else cls.model_validate(obj["data"])
    raise CacheError(
        f"a cached value has an unknown tag {tag!r}; was it written by a newer onetwo?"
    )


_REBUILD: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tuple": lambda o: tuple(o["items"]),
    "dict": lambda o: {k: v for k, v in o["items"]},
    "bytes": lambda o: base64.b64decode(o["b64"], validate=True),
    "chunk": lambda o: Chunk(o["content"], role=o["role"]),
    "chunk_list": lambda o: ChunkList(o["items"]),
    "message": lambda o: Message(o["role"], o["content"]),
}


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


# --- records ----------------------------------------------------------------------------

_FIX = "run cache.check(fix=True) to delete broken entries (export_jsonl() first saves the rest)."
# Parsed binding lines, shared: records of one shape (e.g. every 3-sample repeat) agree.
_bindings_memo: dict[str, dict[str, int]] = {}


def bound_sample(text: str, slot: str) -> str | None:
    """The sample a stored record binds to ``slot`` (``None`` if unbound): the hot path.

    Raises ``CacheError`` if the record is damaged.
    """
    if slot == "" and text.startswith('{"":0}\n'):  # the usual record: one call, one sample
        return text[7 : text.index("\n", 7)]
    try:
        end = text.index("\n")
        bindings = _bindings_memo.get(head := text[:end])
        if bindings is None:
            if len(_bindings_memo) > 4096:
                _bindings_memo.clear()
            bindings = _bindings_memo[head] = json.loads(head)
        i = bindings.get(slot)
        if i is None:
            return None
        for _ in range(i):
            end = text.index("\n", end + 1)
        return text[end + 1 : text.index("\n", end + 1)]
    except (ValueError, AttributeError):
        raise CacheError(f"a cache entry is corrupt: {text[:200]!r}; {_FIX}") from None


class Record:
    """One cached call: its call JSON, its samples (encoded) and their bindings.

    The binding rules live here. A sampling key bound to a sample reads it forever
    (:meth:`bind` in ``record`` mode overwrites the sample instead). A key not bound yet
    may take (:meth:`claimable`) the first sample no other key holds; outside repeats
    (``""``) it reads the first sample without holding it.
    """

    __slots__ = ("bindings", "call", "samples")

    def __init__(
        self, call: str, samples: list[str] | None = None, bindings: dict[str, int] | None = None
    ) -> None:
        self.call = call
        self.samples = samples if samples is not None else []
        self.bindings = bindings if bindings is not None else {}

    @classmethod
    def parse(cls, text: str, key: Key) -> Record:
        """The record stored as ``text``; ``CacheError`` if it is damaged."""
        lines = text.split("\n")
        try:
            bindings = json.loads(lines[0])
            record = cls(lines[-1], lines[1:-1], bindings)
            if len(lines) < 2 or not record._valid():
                raise ValueError("unexpected structure")
        except ValueError as e:
            raise CacheError(f"the cache entry {key} is corrupt ({e}); {_FIX}") from None
        return record

    def _valid(self) -> bool:
        n = len(self.samples)
        return (
            isinstance(self.bindings, dict)
            and all(type(i) is int and 0 <= i < n for i in self.bindings.values())
            and self.call[:1] == "{"
        )

    def dump(self) -> str:
        """The stored text: bindings, samples, call, one line each."""
        return "\n".join([dump_json(self.bindings), *self.samples, self.call])

    def call_data(self) -> dict[str, Any]:
        """The call as JSON data: ``{"backend", "method", "params"}``."""
        data = json.loads(self.call)
        if not (isinstance(data, dict) and isinstance(data.get("backend"), dict)):
            raise CacheError(f"a cache entry's call is not a call: {self.call:.200}")
        return data

    def claimable(self, slot: str) -> int | None:
        """The sample ``slot`` would read: its binding, else one nobody holds, else None."""
        i = self.bindings.get(slot)
        if i is not None or not self.samples:
            return i
        if slot == "":
            return 0
        held = {j for s, j in self.bindings.items() if s}
        return next((j for j in range(len(self.samples)) if j not in held), None)

    def bind(self, slot: str, sample: str, recording: bool) -> tuple[int, bool]:
        """Store ``sample`` for ``slot``; return (the index bound, whether it is ours).

        It is not ours when ``slot`` was bound meanwhile (e.g. by another process): that
        sample stays, and ours is kept, unbound, for other sampling keys.
        """
        samples, bindings = self.samples, self.bindings
        i = bindings.get(slot)
        if i is None and slot == "" and samples:
            i = 0
        own = True
        if i is None:
            samples.append(sample)
            i = len(samples) - 1
        elif recording:
            samples[i] = sample
        else:
            own = False
            if sample not in samples:
                samples.append(sample)
        bindings[slot] = i
        return i, own

    def merge(self, other: Record) -> None:
        """Add ``other``'s samples, and its bindings of keys not bound here."""
        for sample in other.samples:
            if sample not in self.samples:
                self.samples.append(sample)
        for slot, i in other.bindings.items():
            self.bindings.setdefault(slot, self.samples.index(other.samples[i]))

    def export(self) -> dict[str, Any]:
        """The JSON-lines form: ``{"key", "call", "samples", "slots"}`` (samples as JSON)."""
        samples = [json.loads(s) for s in self.samples]
        call = self.call_data()
        return {
            "key": digest_of(self.call),
            "call": call,
            "samples": samples,
            "slots": self.bindings,
        }

    @classmethod
    def from_export(cls, obj: Any, where: str) -> tuple[Key, Record]:
        """The key and record of one exported line; ``CacheError`` naming ``where``."""
        try:
            call, samples, slots = obj["call"], obj["samples"], obj["slots"]
            record = cls(key_json(call), [dump_json(s) for s in samples], dict(slots))
            if not (isinstance(call, dict) and isinstance(call.get("backend"), dict)):
                raise ValueError
            valid = record._valid() and isinstance(obj["key"], str)
        except (TypeError, ValueError, KeyError):
            raise CacheError(f"{where}: not a valid cache entry.") from None
        if not valid:
            raise CacheError(f"{where}: not a valid cache entry.")
        if digest_of(record.call) != obj["key"]:
            raise CacheError(f"{where}: the key does not match the call (edited or corrupt).")
        return key_of(record.call), record

    def problem(self, key: Key) -> str:
        """What is wrong with this record stored at ``key`` ("" if nothing)."""
        if key_of(self.call) != key:
            return "the key does not match the call"
        try:
            self.call_data()
            for sample in self.samples:
                decode(sample)
        except CacheError as e:
            return str(e)
        return ""


# --- the call: from a method's arguments to its key --------------------------------------

_REQUIRED: Any = object()
# Constant text around the given values: texts[0] slot[0] texts[1] slot[1] ... texts[-1].
_Shape = tuple[tuple[str, ...], tuple[str, ...]]
_float_repr = float.__repr__
_int_repr = int.__repr__


class Identity:
    """A backend's ``identity()``, encoded once: JSON, short name, per-method key prefixes."""

    __slots__ = ("json", "prefixes", "short")

    def __init__(self, backend: Any) -> None:
        get = getattr(backend, "identity", None)
        data = dict(get()) if get is not None else {"class": type(backend).__qualname__}
        try:
            self.json: str = key_json(data)
        except (TypeError, ValueError) as e:
            raise CacheError(
                f"{type(backend).__name__}.identity() returned {data!r:.200}, which has no "
                f"stable cache key ({e}). Identity values must be {ACCEPTED}."
            ) from None
        self.short = ":".join(str(data[k]) for k in ("provider", "model") if k in data)
        self.prefixes: dict[MethodSpec, str] = {}

    @staticmethod
    def of(backend: Any) -> Identity:
        """The backend's identity, computed once per instance (a ``copy`` gets its own)."""
        memo = backend.__dict__.get("_onetwo_cache_identity")
        if memo is not None and memo[0] == id(backend):
            return memo[1]
        ident = Identity(backend)
        backend.__dict__["_onetwo_cache_identity"] = (id(backend), ident)
        return ident


class Call:
    """A call of a cached method that the cache must fill: all it needs to make and store it."""

    __slots__ = ("args", "backend", "call_json", "key", "kwargs", "slot", "spec")

    def __init__(
        self, spec: MethodSpec, backend: Any, args: Any, kwargs: Any, call_json: str, slot: str
    ) -> None:
        self.spec, self.backend, self.args, self.kwargs = spec, backend, args, kwargs
        self.call_json, self.key, self.slot = call_json, key_of(call_json), slot

    def describe(self) -> str:
        """``name(non-default arguments) on provider:model (sampling key '3')``."""
        spec, short = self.spec, Identity.of(self.backend).short
        eff = spec.bind(self.args, self.kwargs) or {}
        shown = [
            f"{k}={_short(v)}" for k, v in eff.items() if spec.defaults.get(k, _REQUIRED) is not v
        ]
        where = f" on {short}" if short else ""
        sample = f" (sampling key {self.slot!r})" if self.slot else ""
        return f"{spec.name}({', '.join(shown)}){where}{sample}"


class MethodSpec:
    """What ``cache_method`` learns once from a method's signature, to key its calls.

    Plain arguments (str, int, float, bool, None: the usual case) are written into the
    ``params`` JSON straight from a per-shape template; others are bound with
    ``inspect`` and :func:`key_json`. Both give the same text.
    """

    def __init__(
        self, fn: Callable[..., Any], name: str, is_sampled: bool, ignore_args: Iterable[str]
    ) -> None:
        self.fn, self.name, self.is_sampled = fn, name, is_sampled
        self.name_json = json.dumps(name)
        self.sig = inspect.signature(fn)
        params = list(self.sig.parameters.values())[1:]  # after self
        self.names = frozenset(p.name for p in params)
        if isinstance(ignore_args, str):  # a str is an iterable of one-letter names
            raise TypeError(
                f"ignore_args of {fn.__qualname__} takes a list of argument names, got the "
                f"str {ignore_args!r}; write ignore_args=[{ignore_args!r}]."
            )
        self.ignore = frozenset(ignore_args)
        if self.ignore - self.names:
            raise ValueError(
                f"ignore_args names {sorted(self.ignore - self.names)}, which "
                f"{fn.__qualname__} does not have; its parameters are {sorted(self.names)}."
            )
        self.simple = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params)
        self.positional = tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}
        self.var_keyword = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
        self._shapes: dict[tuple[str, ...], _Shape | None] = {}

    def call_json(self, backend: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """The call JSON (see :class:`Record`) of these arguments; ``None`` if they don't bind."""
        params = self._plain_params(args, kwargs)
        if params is None:
            eff = self.bind(args, kwargs)
            if eff is None:
                return None
            try:
                params = key_json(eff)
            except (TypeError, ValueError):
                raise self._key_error(eff) from None
        ident = Identity.of(backend)
        prefix = ident.prefixes.get(self)
        if prefix is None:
            prefix = f'{{"backend":{ident.json},"method":{self.name_json},"params":'
            ident.prefixes[self] = prefix
        return prefix + params + "}"

    def _plain_params(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        # The same text key_json(bind(...)) gives, for plain values only; else None.
        if args:
            if len(args) > len(self.positional):
                return None
            given = dict(zip(self.positional, args))
            if kwargs:
                if not given.keys().isdisjoint(kwargs):
                    return None
                given.update(kwargs)
            kwargs = given
        names = tuple(kwargs)
        try:
            shape = self._shapes[names]
        except KeyError:
            shape = self._shape(names)
        if shape is None:
            return None
        texts, slots = shape
        out = texts[0]
        for name, text in zip(slots, texts[1:]):
            v = kwargs[name]
            t = type(v)
            if t is str:
                out += encode_basestring_ascii(v) + text
            elif v is None:
                out += "null" + text
            elif t is bool:
                out += ("true" if v else "false") + text
            elif t is int:
                out += _int_repr(v) + text
            elif t is float and v - v == 0:  # not NaN/inf, which JSON spells differently
                out += _float_repr(v) + text
            else:
                return None
        return out

    def _shape(self, names: tuple[str, ...]) -> _Shape | None:
        shape: _Shape | None = None
        given = set(names)
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
                shape = None
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
        for n in self.ignore:
            eff.pop(n, None)
        return eff

    def _key_error(self, eff: dict[str, Any]) -> CacheError:
        for arg, value in eff.items():
            try:
                key_json(value)
            except (TypeError, ValueError) as e:
                what = e.type_name if isinstance(e, UnsupportedType) else f"value ({e})"
                return CacheError(
                    f"cannot cache {self.name}: its argument `{arg}` is a {what}, which has no "
                    f"stable cache key. The cache accepts {ACCEPTED}. Pass one of those, or "
                    f"leave the argument out of the key with cache_method(ignore_args=['{arg}'])."
                )
        return CacheError(f"cannot build a cache key for {self.name}: {eff!r:.200}.")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
