"""Builtins: the LLM calls a strategy makes (``llm``) and composable prompts (``composables``).

Importing this package makes ``executable + text`` a composable prompt: the core cannot
import prompts, so ``_composing`` registers its ``compose`` with
``onetwo.core.executing.set_composer`` (the modules making composables all live here).
"""

from onetwo.builtins import _composing as _composing

__all__: list[str] = []
