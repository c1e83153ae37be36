"""The runtime: executables, scheduler, registry, cache, tracing. Imports no model SDK."""

__all__: list[str] = []
