"""Ensembling strategies: see ``self_consistency``."""

__all__: list[str] = []
