"""The short public namespace: ``from onetwo import ot``.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> from onetwo.backends.fake import FakeBackend
    >>> FakeBackend(default_reply="blue").register()
    >>> @ot.make_executable
    ... async def strategy(question: str) -> list[str]:
    ...     return await ot.parallel(llm.generate_text(question), llm.generate_text(question))
    >>> ot.run(strategy("Sky color?"))
    ['blue', 'blue']
"""

from onetwo import __version__
from onetwo.builtins.composables import make_composable
from onetwo.core.executable import Executable, make_executable
from onetwo.core.registry import (
    Registry,
    RegistryContext,
    copy_registry,
    function_registry,
    set_registry,
    with_current_registry,
    with_registry,
)
from onetwo.core.running import run
from onetwo.core.sampling import repeat
from onetwo.core.scheduling import par_iter, parallel
from onetwo.core.streaming import safe_stream, stream_updates, stream_with_callback
from onetwo.evaluation.evaluation import (
    compare,
    evaluate,
    naive_evaluation_critic,
    naive_fuzzy_evaluation_critic,
)
from onetwo.evaluation.rendering import HTMLRenderer

# The reference OneTwo's other name for it: ``ot.function_call("name", *args)``.
function_call = function_registry

__all__ = [
    "Executable",
    "HTMLRenderer",
    "Registry",
    "RegistryContext",
    "__version__",
    "compare",
    "copy_registry",
    "evaluate",
    "function_call",
    "function_registry",
    "make_composable",
    "make_executable",
    "naive_evaluation_critic",
    "naive_fuzzy_evaluation_critic",
    "par_iter",
    "parallel",
    "repeat",
    "run",
    "safe_stream",
    "set_registry",
    "stream_updates",
    "stream_with_callback",
    "with_current_registry",
    "with_registry",
]
