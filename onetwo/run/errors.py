"""The one error the command line reports as "bad flags or inputs" (exit status 2).

Example:
    >>> raise InputError("--dataset=missing.jsonl: no such file. Check the path.")
    Traceback (most recent call last):
    ...
    onetwo.run.errors.InputError: --dataset=missing.jsonl: no such file. Check the path.
"""

from __future__ import annotations

from onetwo.errors import ConfigurationError

__all__ = ["InputError"]


class InputError(ConfigurationError):
    """A flag or an input file is wrong; the message says which, its value, and the fix."""
