"""The registry under the module path OneTwo users import: ``from onetwo.core import routing``.

The objects of ``onetwo.core.registry`` (and ``ot``), nothing of its own.

Example:
    >>> from onetwo.core import executing, routing
    >>> routing.function_registry["double"] = lambda x: 2 * x
    >>> executing.run(routing.function_registry("double", 21))
    42
"""

from onetwo.core.registry import (
    RegistryContext,
    copy_registry,
    function_registry,
    set_registry,
    with_current_registry,
    with_registry,
)

__all__ = [
    "RegistryContext",
    "copy_registry",
    "function_registry",
    "set_registry",
    "with_current_registry",
    "with_registry",
]
