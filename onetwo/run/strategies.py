"""Loading a function named on the command line: ``path/to/file.py:name`` or ``module:name``.

The strategy (``--strategy``) and the metrics (``--metric``) are found this way. A file is
imported as a module of its own (its folder first on ``sys.path``, so it may import its
neighbours); a module is imported by name. Alongside the function comes the SHA-256 of
the source that defines it, which is part of the run's fingerprint.

Example:
    >>> loaded = load_function("solve.py:solve", "--strategy")   # doctest: +SKIP
    >>> loaded.function, loaded.sha256[:8]                       # doctest: +SKIP
    (<function solve at 0x...>, '3f2a9c1e')
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from typing import Any

from onetwo.run.errors import InputError

__all__ = ["LoadedFunction", "load_function"]


@dataclasses.dataclass(frozen=True)
class LoadedFunction:
    """A function from the command line, its name, and the digest of its source file."""

    spec: str
    name: str
    function: Callable[..., Any]
    sha256: str


def _is_file(target: str) -> bool:
    return target.endswith(".py") or os.sep in target or "/" in target


def _import_file(path: str, flag: str, spec: str) -> types.ModuleType:
    if not os.path.isfile(path):
        raise InputError(
            f"{flag}={spec}: the file {path!r} does not exist (looked in {os.getcwd()}). "
            "Give the path of a .py file, or a module name: package.module:function."
        )
    name = "_onetwo_run_" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise InputError(
            f"{flag}={spec}: importing {path!r} failed: {type(e).__name__}: {e}. Fix the file."
        ) from e
    return module


def _import_module(target: str, flag: str, spec: str) -> types.ModuleType:
    try:
        return importlib.import_module(target)
    except ImportError as e:
        raise InputError(
            f"{flag}={spec}: cannot import module {target!r} ({e}). Give a module on the "
            "Python path, or a file: path/to/file.py:function."
        ) from e


def _source_digest(module: types.ModuleType) -> str:
    path = getattr(module, "__file__", None)
    if path is None:
        return ""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_function(spec: str, flag: str) -> LoadedFunction:
    """Import ``spec`` (``file.py:name`` or ``module:name``); bad specs raise ``InputError``.

    Args:
        spec: where the function is, ``target:name``.
        flag: the flag it came from, for the error messages (``"--strategy"``).
    """
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise InputError(
            f"{flag}={spec}: expected path/to/file.py:function or package.module:function "
            "(a colon before the function's name)."
        )
    if _is_file(target):
        module = _import_file(target, flag, spec)
    else:
        module = _import_module(target, flag, spec)
    function = getattr(module, name, None)
    if function is None:
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise InputError(
            f"{flag}={spec}: {target!r} has no function {name!r}. Its functions: {public[:20]}."
        )
    if not callable(function):
        raise InputError(
            f"{flag}={spec}: {name!r} in {target!r} is a {type(function).__name__}, not a function."
        )
    return LoadedFunction(spec, name, function, _source_digest(module))
