"""Reasoning strategies: see ``chain_of_thought``."""

__all__: list[str] = []
