"""Cache keys of backend calls, built cheaply: what ``cache_method`` does on every call.

Package-private helper of ``onetwo.core.caching``. A call's key is the SHA-256 of

    {"backend":<identity>,"method":<name>,"params":<effective arguments>}

as canonical JSON (see ``_cache_codec.key_json``). :class:`MethodSpec` reads the
method's signature once; per call it writes the ``params`` JSON straight from the
arguments when they are plain (str, int, float, bool, None: the usual case), and binds
them with ``inspect`` and the general encoder otherwise. Both give the same text.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii
from typing import Any

from onetwo.core._cache_codec import UnsupportedType, key_json
from onetwo.core.sampling import current_sampling_key
from onetwo.errors import CacheError

__all__ = ["ACCEPTED", "Call", "Identity", "MethodSpec", "identity_of", "identity_tag"]

ACCEPTED = (
    "str, numbers, bools, None, lists, tuples, dicts, bytes, enums, pydantic models, "
    "and onetwo content (Chunk, ChunkList, Message)"
)

_REQUIRED: Any = object()
# Constant text around the given values: texts[0] slot[0] texts[1] slot[1] ... texts[-1].
_Shape = tuple[tuple[str, ...], tuple[str, ...]]
_float_repr = float.__repr__
_int_repr = int.__repr__


class Identity:
    """A backend's ``identity()``, encoded once: JSON, tag, and per-method key prefixes."""

    __slots__ = ("data", "json", "prefixes", "short", "tag")

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
        self.data: dict[str, Any] = json.loads(self.json)
        self.tag = identity_tag(self.json)
        self.short = ":".join(str(data[k]) for k in ("provider", "model") if k in data)
        self.prefixes: dict[MethodSpec, str] = {}


def identity_tag(identity_json: str) -> str:
    """The tag that groups a backend's entries in the store (for listing and dropping)."""
    return hashlib.sha256(identity_json.encode()).hexdigest()[:32]


def identity_of(backend: Any) -> Identity:
    """The backend's encoded identity, computed on first use and kept on the instance.

    The memo records which instance computed it, so a ``copy.copy`` of a backend (whose
    model may then be changed) computes its own.
    """
    memo = backend.__dict__.get("_onetwo_cache_identity")
    if memo is not None and memo[0] == id(backend):
        return memo[1]
    ident = Identity(backend)
    backend.__dict__["_onetwo_cache_identity"] = (id(backend), ident)
    return ident


class Call:
    """A call that missed the fast path: everything the cache needs to fill it."""

    __slots__ = ("args", "backend", "call_json", "ident", "key", "kwargs", "slot", "spec", "vkey")

    def __init__(
        self,
        spec: MethodSpec,
        backend: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        ident: Identity,
        call_json: str,
        key: str,
        slot: str,
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.args = args
        self.kwargs = kwargs
        self.ident = ident
        self.call_json = call_json
        self.key = key
        self.slot = slot
        self.vkey = f"v:{key}:{slot}"

    def describe(self) -> str:
        """``name(non-default arguments) on provider:model (sampling key '3')``."""
        spec = self.spec
        eff = spec.bind(self.args, self.kwargs) or {}
        shown = [
            f"{k}={_short(v)}" for k, v in eff.items() if spec.defaults.get(k, _REQUIRED) is not v
        ]
        where = f" on {self.ident.short}" if self.ident.short else ""
        sample = f" (sampling key {self.slot!r})" if spec.is_sampled and self.slot else ""
        return f"{spec.name}({', '.join(shown)}){where}{sample}"


class MethodSpec:
    """What ``cache_method`` learns once from a method's signature."""

    def __init__(
        self, fn: Callable[..., Any], name: str, is_sampled: bool, ignore_args: Iterable[str]
    ) -> None:
        self.fn = fn
        self.name = name
        self.name_json = json.dumps(name)
        self.is_sampled = is_sampled
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
        # For the fast path: per set of given argument names, the params JSON as constant
        # text (defaults filled in) around the slots of the given values.
        self._shapes: dict[tuple[str, ...], _Shape | None] = {}

    def key_of(self, backend: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``(identity, call JSON, key)`` of a call, or ``None`` if the arguments don't bind."""
        params = self._plain_params(args, kwargs)
        if params is None:
            eff = self.bind(args, kwargs)
            if eff is None:
                return None
            try:
                params = key_json(eff)
            except (TypeError, ValueError):
                raise self._key_error(eff) from None
        ident = identity_of(backend)
        prefix = ident.prefixes.get(self)
        if prefix is None:
            prefix = f'{{"backend":{ident.json},"method":{self.name_json},"params":'
            ident.prefixes[self] = prefix
        call_json = prefix + params + "}"
        return ident, call_json, hashlib.sha256(call_json.encode()).hexdigest()

    def make_call(
        self, backend: Any, args: tuple[Any, ...], kwargs: dict[str, Any], made: Any
    ) -> Call:
        ident, call_json, key = made
        slot = current_sampling_key() if self.is_sampled else ""
        return Call(self, backend, args, kwargs, ident, call_json, key, slot)

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
