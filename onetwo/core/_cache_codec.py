"""How the call cache turns arguments into keys and values into text, and back, safely.

Package-private helper of ``onetwo.core.caching``.

* **Keys**: :func:`key_json` writes the effective arguments of a call as canonical JSON
  (sorted keys, no spaces, ASCII). Besides JSON types it accepts tuples (as lists),
  ``bytes`` (hashed), enums, pydantic models and model classes (name and JSON schema),
  and ``onetwo.core.content`` values. Anything else is an error: a ``repr`` could hold
  a memory address and never hit again.
* **Values**: :func:`encode_value` stores a ``str`` as ``"s" + text`` (nothing to parse on
  replay) and everything else as ``"j" + JSON``, where what JSON cannot say exactly is
  tagged: ``{"__onetwo__": "tuple", "items": [...]}``, ``"bytes"``, ``"dict"`` (non-str
  keys), ``"enum"``, ``"pydantic"``, ``"chunk"``, ``"chunk_list"``, ``"message"``.

Loading a value never unpickles and never imports: a tagged class is looked up among
the classes this process has stored or :func:`register_types` was given, then among the
modules already imported (reading module and class ``__dict__`` s, so no module
``__getattr__`` runs), and it must be a pydantic ``BaseModel`` (resp. ``Enum``)
subclass. The worst a hostile cache folder can do is make pydantic validate its data
against a model your program already imported.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

import pydantic

from onetwo.core.content import Chunk, ChunkList, Message
from onetwo.errors import CacheError

__all__ = ["UnsupportedType", "decode_value", "encode_value", "key_json", "register_types"]

TAG = "__onetwo__"

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


# --- keys -------------------------------------------------------------------------------


def _key_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return {TAG: "enum", "class": _path(type(value)), "value": value.value}
    if isinstance(value, pydantic.BaseModel):
        return {TAG: "pydantic", "class": _path(type(value)), "data": value.model_dump(mode="json")}
    if isinstance(value, bytes | bytearray):
        return {TAG: "bytes", "sha256": hashlib.sha256(value).hexdigest(), "len": len(value)}
    if isinstance(value, Chunk):
        return {TAG: "chunk", "content": value.content, "role": value.role}
    if isinstance(value, ChunkList):
        return {TAG: "chunk_list", "items": value.chunks}
    if isinstance(value, Message):
        return {TAG: "message", "role": value.role, "content": value.content}
    if isinstance(value, type):
        schema = _schemas.get(value)
        if schema is None:
            if issubclass(value, pydantic.BaseModel):
                # The schema, not just the name: changing a field changes the outputs.
                schema = value.model_json_schema()
            elif value.__module__ == "builtins":
                schema = ""
            else:
                raise UnsupportedType(value)
            _schemas[value] = schema
        return {TAG: "type", "class": _path(value), "schema": schema}
    raise UnsupportedType(value)


_key_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_key_default)

key_json: Callable[[Any], str] = _key_encoder.encode
"""Canonical JSON of a key part; raises :class:`UnsupportedType` (or ``TypeError`` for
dict keys that are not str/int/float/bool/None) on anything else."""


# --- values -----------------------------------------------------------------------------

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
        data = _to_json(value.model_dump(mode="json"))
        return {TAG: "pydantic", "class": _path(t), "data": data}
    if t is Chunk:
        return {TAG: "chunk", "content": _to_json(value.content), "role": _to_json(value.role)}
    if t is ChunkList:
        return {TAG: "chunk_list", "items": [_to_json(c) for c in value.chunks]}
    if t is Message:
        return {TAG: "message", "role": _to_json(value.role), "content": _to_json(value.content)}
    raise UnsupportedType(value)


def encode_value(value: Any) -> str:
    """The stored text of a call's result; raises :class:`UnsupportedType`."""
    if type(value) is str:
        return "s" + value
    return "j" + json.dumps(_to_json(value), separators=(",", ":"))


def decode_value(text: str) -> Any:
    """The result stored as ``text`` by :func:`encode_value`; raises ``CacheError``."""
    if text[:1] == "s":
        return text[1:]
    if text[:1] != "j":
        raise CacheError(f"a cached value has an unknown format (starts with {text[:1]!r}).")
    try:
        return json.loads(text[1:], object_hook=_from_json)
    except (ValueError, TypeError, KeyError, pydantic.ValidationError) as e:
        raise CacheError(f"a cached value could not be decoded: {e}") from e


def _from_json(obj: dict[str, Any]) -> Any:
    tag = obj.get(TAG)
    if tag is None:
        return obj
    if tag == "tuple":
        return tuple(obj["items"])
    if tag == "dict":
        return {k: v for k, v in obj["items"]}
    if tag == "bytes":
        return base64.b64decode(obj["b64"], validate=True)
    if tag == "chunk":
        return Chunk(obj["content"], role=obj["role"])
    if tag == "chunk_list":
        return ChunkList(obj["items"])
    if tag == "message":
        return Message(obj["role"], obj["content"])
    if tag == "enum":
        return _resolve(obj["class"], enum.Enum)(obj["value"])
    if tag == "pydantic":
        return _resolve(obj["class"], pydantic.BaseModel).model_validate(obj["data"])
    raise CacheError(
        f"a cached value has an unknown tag {tag!r}; was it written by a newer onetwo?"
    )


def _resolve(path: Any, base: type) -> Any:
    cls = _allowed.get(path) if isinstance(path, str) else None
    if cls is None and isinstance(path, str):
        module_name, _, qualname = path.partition(":")
        obj: Any = sys.modules.get(module_name)
        for part in qualname.split(".") if obj is not None else ():
            # vars(), not getattr(): a module's __getattr__ could import or run code.
            obj = vars(obj).get(part) if hasattr(obj, "__dict__") else None
        if isinstance(obj, type):
            cls = obj
    if cls is None or not issubclass(cls, base):
        raise CacheError(
            f"a cached value is a {path!r}, which is not a {base.__name__} of an imported "
            "module. Import the module that defines it before replaying (the cache never "
            "imports), or allow the class with caching.register_types(cls)."
        )
    return cls
