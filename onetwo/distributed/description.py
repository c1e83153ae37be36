"""What a worker builds its registry from: a backend spec and its arguments, never a client.

A :class:`BackendDescription` crosses the wire instead of a live backend (whose HTTP
client, rate limiter state and API key belong to one process). Each worker builds the
backend from it once, with its own :class:`~onetwo.distributed.worker_cache.WorkerCache`,
and reads API keys from its own environment (``OPENAI_API_KEY``...), as a backend does
when it is given none. A description is a spec (``"openai:gpt-4o-mini"``, or the command
line's :class:`~onetwo.run.backend_specs.BackendSpec`, ``fake`` included) with arguments,
or a picklable function ``setup(cache) -> backend`` for a backend of your own.

Example:
    >>> description = BackendDescription.of("fake:four", {"default_reply": "4"})
    >>> description.label
    'fake:four'
    >>> BackendDescription.of("openai:gpt-4o-mini", {"api_key": "sk-..."})
    Traceback (most recent call last):
    ...
    ValueError: ...
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from onetwo.core.caching import CallCache
from onetwo.core.registry import Registry, RegistryContext, copy_registry
from onetwo.run.backend_specs import BackendSpec, build_registry, parse_spec

__all__ = ["BackendDescription", "Setup"]

Setup = Callable[[CallCache | None], Any]
"""``setup(cache)``: builds a backend (whose ``register()`` is then called) with that cache."""
# A key, not a count: "auth_token" and "hf_token" are credentials, "max_tokens" is not.
_SECRET = re.compile(r"api_?key|secret|password|credential|token$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class BackendDescription:
    """A picklable recipe for a worker's registry; see the module docstring.

    Attributes:
        spec: the backend spec with its arguments, or None with ``setup``.
        setup: a function building the backend from the worker's cache, or None.
    """

    spec: BackendSpec | None = None
    setup: Setup | None = None

    @classmethod
    def of(
        cls,
        backend: str | BackendSpec | Setup | BackendDescription,
        args: Mapping[str, Any] | None = None,
    ) -> BackendDescription:
        """The description of ``backend``: a spec text, a ``BackendSpec`` or a setup function.

        Raises:
            ValueError: the arguments hold a credential (workers read keys from their
                environment), or the spec has no provider.
            TypeError: ``backend`` is none of these.
        """
        if isinstance(backend, BackendDescription):
            return backend
        if isinstance(backend, str):
            spec = parse_spec(backend, "")
            backend = dataclasses.replace(spec, args=dict(args or {}))
        elif args:
            raise TypeError("backend_args= goes with a spec text, e.g. 'fake:name'.")
        if isinstance(backend, BackendSpec):
            secrets = sorted(name for name in backend.args if _SECRET.search(name))
            if secrets:
                raise ValueError(
                    f"the arguments of backend {backend.label!r} hold credentials "
                    f"({', '.join(secrets)}), which would travel to every worker. Leave them "
                    "out: each worker reads its key from its own environment (e.g. "
                    "OPENAI_API_KEY, GEMINI_API_KEY)."
                )
            return cls(spec=backend)
        if callable(backend):
            return cls(setup=backend)
        raise TypeError(
            f"backend= takes a spec text ('openai:gpt-4o-mini'), a BackendSpec or a function "
            f"setup(cache) -> backend; got a {type(backend).__name__}: {backend!r:.80}."
        )

    @property
    def label(self) -> str:
        """The spec as written, or the setup function's name."""
        if self.spec is not None:
            return self.spec.label
        return getattr(self.setup, "__qualname__", repr(self.setup))

    def build(self, cache: CallCache | None) -> Registry:
        """A registry in which the described backend, using ``cache``, answers the builtins."""
        if self.spec is not None:
            return build_registry(self.spec, cache)
        assert self.setup is not None
        with RegistryContext():
            backend = self.setup(cache)
            if backend is not None:
                backend.register()
            return copy_registry()
