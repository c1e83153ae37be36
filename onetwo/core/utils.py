"""The helper of the reference OneTwo's ``onetwo.core.utils`` that its notebooks use.

Example:
    >>> from onetwo.core import tracing, utils
    >>> class Critic:
    ...     @tracing.trace(name=utils.FROM_INSTANCE_CLASS_NAME)  # a node "Critic.__call__"
    ...     def __call__(self, answer: str) -> float:
    ...         return 1.0
"""

from typing import Final

__all__ = ["FROM_INSTANCE_CLASS_NAME"]

# ``trace(name=None)``: the node is named after the function, ``Class.method`` for a method
# (the reference: after the instance's class).
FROM_INSTANCE_CLASS_NAME: Final = None
