"""Backends: implementations of the builtins on real models, and a scripted fake.

* ``onetwo.backends.fake.FakeBackend``: scripted replies, for tests and notebooks.

Importing this package imports no model SDK; each backend module imports its own.
"""

from onetwo.backends._shorthand import backend as backend
from onetwo.backends._shorthand import local_backend as local_backend

__all__: list[str] = ["backend", "local_backend"]
