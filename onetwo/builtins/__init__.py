"""Builtins: the LLM calls a strategy makes (``llm``) and composable prompts (``composables``).

Importing this package makes ``executable + text`` build a composable prompt: the core
cannot import prompts, so ``_composing`` registers its ``compose`` with
``onetwo.core.executing.set_composer``, and every module that creates builtins or
composables lives in this package.
"""

from onetwo.builtins import _composing as _composing

__all__: list[str] = []
