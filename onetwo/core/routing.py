"""The registry under the module path OneTwo users import: ``from onetwo.core import routing``.

The objects of ``onetwo.core.registry`` (and ``ot``), nothing of its own.

Example:
    >>> from onetwo.core import executing, routing
    >>> routing.function_registry["double"] = lambda x: 2 * x
    >>> executing.run(routing.function_registry("double", 21))
    42
"""

from onetwo.core import registry

__all__ = [
    "RegistryContext",
    "copy_registry",
    "function_registry",
    "set_registry",
    "with_current_registry",
    "with_registry",
]

RegistryContext = registry.RegistryContext
copy_registry = registry.copy_registry
function_registry = registry.function_registry
set_registry = registry.set_registry
with_current_registry = registry.with_current_registry
with_registry = registry.with_registry
