"""Whether the local model rig (xllamacpp + the SmolLM2 GGUF + openai) is installed.

Example:
    >>> reason = rig_missing()
    >>> if reason:   # doctest: +SKIP
    ...     pytest.skip(f"the local model rig is missing: {reason}")
"""

from __future__ import annotations

import importlib.util

from onetwo.errors import ConfigurationError

__all__ = ["rig_missing"]


def rig_missing() -> str | None:
    """Why the rig cannot run here (what to install), or None when it can."""
    for module, extra in (("openai", "openai"), ("xllamacpp", "local")):
        if importlib.util.find_spec(module) is None:
            return f"`{module}` is not installed (pip install 'onetwo[{extra}]')"
    from onetwo.backends.local import find_model_file

    try:
        find_model_file("smollm2")
    except ConfigurationError as e:
        return str(e)
    return None
