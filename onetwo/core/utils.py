"""The helpers of ``onetwo.core.utils`` that the reference OneTwo's notebooks use.

``tracing.trace(name=utils.FROM_INSTANCE_CLASS_NAME)`` on a method names its trace node
after the method, as ``Class.method`` (the reference: after the instance's class).

Example:
    >>> from onetwo.core import tracing, utils
    >>> class Critic:
    ...     @tracing.trace(name=utils.FROM_INSTANCE_CLASS_NAME)
    ...     def __call__(self, answer: str) -> float:
    ...         return 1.0
"""

from typing import Final

__all__ = ["FROM_INSTANCE_CLASS_NAME"]

# ``trace(name=None)``: the node is named after the function, ``Class.method`` for a method.
FROM_INSTANCE_CLASS_NAME: Final = None
