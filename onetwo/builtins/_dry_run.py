"""Dry runs: the prompts a composable would send, answered by stubs, with no backend.

``composable.dry_run(**inputs)`` runs the composable on a registry of its own that holds
only stubs: ``llm.generate_text`` and ``llm.chat`` reply :data:`DRY_RUN_REPLY`,
``llm.score_text`` scores every option 0.0 (so ``select``/``choose`` pick the first),
``llm.generate_object`` returns ``cls()`` (or an unvalidated pydantic model, or
``None``). The other builtins fall back on these; anything else (``embed``...) is not
configured, so nothing can reach a real backend.

Example:
    >>> from onetwo.builtins import composables as c
    >>> c.j("Q: {{ q }}\\nA: {{ generate_text() }}").dry_run(q="2+2?").prompts
    ['Q: 2+2?\\nA: ']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pydantic

from onetwo.builtins import llm
from onetwo.builtins._composing import Composable
from onetwo.core.content import ChunkList, Message
from onetwo.core.registry import Registry, with_registry
from onetwo.core.syncrun import run_sync

__all__ = ["DRY_RUN_REPLY", "DryRun", "DryRunCall", "dry_run"]

DRY_RUN_REPLY = "<generated>"


@dataclasses.dataclass(frozen=True, slots=True)
class DryRunCall:
    """One builtin call a dry run saw: its name, prompt (or messages) and other arguments."""

    builtin: str
    prompt: str | ChunkList | list[Message]
    arguments: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class DryRun:
    """What a dry run produced: the calls in order, the final text and the variables."""

    calls: list[DryRunCall]
    text: str
    variables: dict[str, Any]

    @property
    def prompts(self) -> list[str | ChunkList | list[Message]]:
        """The prompts (for ``chat``: the messages) the calls would send, in order."""
        return [c.prompt for c in self.calls]


class _Stubs:
    """The stub implementations, recording every call."""

    def __init__(self) -> None:
        self.calls: list[DryRunCall] = []

    def registry(self) -> Registry:
        registry = Registry()
        registry[llm.generate_text.name] = self.generate_text
        registry[llm.chat.name] = self.chat
        registry[llm.score_text.name] = self.score_text
        registry[llm.generate_object.name] = self.generate_object
        return registry

    def generate_text(self, prompt: Any, include_details: bool = False, **kw: Any) -> Any:
        self.calls.append(DryRunCall("llm.generate_text", prompt, kw))
        return (DRY_RUN_REPLY, {}) if include_details else DRY_RUN_REPLY

    def chat(self, messages: Sequence[Message], include_details: bool = False, **kw: Any) -> Any:
        self.calls.append(DryRunCall("llm.chat", list(messages), kw))
        return (DRY_RUN_REPLY, {}) if include_details else DRY_RUN_REPLY

    def score_text(self, prompt: Any, targets: Sequence[str]) -> list[float]:
        self.calls.append(DryRunCall("llm.score_text", prompt, {"targets": list(targets)}))
        return [0.0] * len(targets)

    def generate_object(self, prompt: Any, cls: Any, **kw: Any) -> Any:
        self.calls.append(DryRunCall("llm.generate_object", prompt, {"cls": cls, **kw}))
        return _stub_object(cls)


def _stub_object(cls: Any) -> Any:
    try:
        return cls()
    except Exception:
        if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
            return cls.model_construct()
        return None


def dry_run(composable: Composable) -> DryRun:
    """Run ``composable`` on the stubs (see the module docstring) and report its calls."""
    stubs = _Stubs()
    run = with_registry(composable.with_context(), stubs.registry())

    async def main() -> Any:
        return await run

    context = run_sync(main)
    return DryRun(stubs.calls, context.text, context.variables)
