"""``--backend=provider:model`` and ``--backend_args=key=value,...`` to registries.

Each backend is built with ``onetwo.backends.backend(spec, cache=..., **args)`` (its
``fake`` provider, the scripted :class:`~onetwo.backends.fake.FakeBackend`, serves dry runs
and tests). Argument values are parsed as JSON where they parse (``max_tokens=8`` is an
int, ``stop=["\\n"]`` a list) and kept as text otherwise; a fake's ``default_reply=4`` is
the text ``"4"`` (replies are text). Each backend registers into a registry of its own, so
several run side by side.

Example:
    >>> spec = parse_spec("fake:four", "default_reply=4")
    >>> spec.provider, spec.model, spec.args
    ('fake', 'four', {'default_reply': 4})
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from onetwo import ot
from onetwo.backends import backend
from onetwo.core.backend import Backend
from onetwo.core.caching import CallCache
from onetwo.core.registry import Registry
from onetwo.run.errors import InputError

__all__ = ["BackendSpec", "build_registry", "parse_args", "parse_spec"]

# A comma starts a new argument only when a `name=` follows it: `stop=["a","b"]` is one.
_ARGUMENT_START = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*\s*=)")


@dataclasses.dataclass(frozen=True)
class BackendSpec:
    """One ``--backend`` and its arguments: ``label`` is the spec as written."""

    label: str
    provider: str
    model: str
    args: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """What the fingerprint records about this backend."""
        return {"backend": self.label, "args": self.args}


def parse_args(text: str) -> dict[str, Any]:
    """``"a=1,b=x"`` → ``{"a": 1, "b": "x"}``; a value is JSON if it parses, else text."""
    args: dict[str, Any] = {}
    if not text.strip():
        return args
    for part in _ARGUMENT_START.split(text):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InputError(
                f"--backend_args={text}: {part!r} is not key=value. Write e.g. "
                "--backend_args=max_tokens=16,temperature=0."
            )
        try:
            args[key] = json.loads(raw)
        except json.JSONDecodeError:
            args[key] = raw
    return args


def parse_spec(label: str, args_text: str) -> BackendSpec:
    """One ``--backend`` with its ``--backend_args`` text."""
    provider, _, model = label.partition(":")
    if not provider.strip():
        raise InputError(
            f"--backend={label}: no provider. Write provider:model, e.g. local:smollm2."
        )
    return BackendSpec(label, provider.strip().lower(), model.strip(), parse_args(args_text))


def _build(spec: BackendSpec, cache: CallCache | None) -> Backend:
    args = dict(spec.args)
    reply = args.get("default_reply")
    if spec.provider == "fake" and isinstance(reply, int | float):  # parsed as JSON
        args["default_reply"] = str(reply)
    return backend(spec.label, cache=cache, **args)


def build_registry(spec: BackendSpec, cache: CallCache | None) -> Registry:
    """A registry in which ``spec``'s backend answers the builtins (with ``cache``)."""
    try:
        built = _build(spec, cache)
    except ValueError as e:  # the shorthand's unknown provider, bad values
        raise InputError(f"--backend={spec.label}: {e}") from e
    except TypeError as e:  # an argument the constructor does not take
        raise InputError(
            f"--backend={spec.label} --backend_args={spec.args}: {e}. Check the argument "
            "names against the backend's constructor."
        ) from e
    except ImportError as e:  # the provider's SDK is missing; the message says what to install
        raise InputError(f"--backend={spec.label}: {e}") from e
    with ot.RegistryContext():
        built.register()
        return ot.copy_registry()
