"""Ray, imported once, with the install line when it is missing."""

from __future__ import annotations

try:
    import ray
except ImportError as e:  # pragma: no cover - the extra is installed in CI
    raise ImportError(
        f"onetwo.distributed runs on Ray, which is not installed ({e}). Install the extra: "
        "pip install 'onetwo[ray]'."
    ) from e

__all__ = ["ray"]
