"""Backends: implementations of the builtins on real models, and a scripted fake.

* ``onetwo.backends.fake.FakeBackend``: scripted replies, for tests and notebooks.

Importing this package imports no model SDK; each backend module imports its own.
"""

__all__: list[str] = []
