"""Helpers at the reference's ``onetwo.utils`` paths (notebook conveniences)."""

__all__: list[str] = []
