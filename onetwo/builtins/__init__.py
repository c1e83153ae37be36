"""Builtins: the LLM calls a strategy makes (``llm``) and composable prompts (``composables``)."""

__all__: list[str] = []
