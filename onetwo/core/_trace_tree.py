"""The trace tree: :class:`Trace` nodes and their totals, :class:`TraceStats`.

Running code grows the tree through ``onetwo.core.tracing``, the public face of both.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterator
from typing import Any

from onetwo.core.rendering import HTMLRenderer

__all__ = ["Trace", "TraceStats"]


@dataclasses.dataclass(frozen=True, slots=True)
class TraceStats:
    """Totals over a trace's tree: builtin ``calls``, ``model_calls`` (a backend answered),
    the tokens backends reported, cache lookups that hit or missed, nodes with ``errors``.
    """

    calls: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    errors: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TraceStats) -> TraceStats:
        return TraceStats(*map(operator.add, dataclasses.astuple(self), dataclasses.astuple(other)))


@dataclasses.dataclass(slots=True, eq=False, repr=False)
class Trace:
    """One traced call and the calls it made (``children``, in the order they started).

    Attributes:
        name: what ran, e.g. ``"llm.generate_text"`` or a function's name.
        kind: ``"builtin"``, ``"function"`` or ``"run"`` (a whole run, or one example
            of an evaluation).
        inputs: the arguments by name (for builtins: with the defaults filled in).
        outputs: the result (for a traced generator: the last value yielded so far).
        error: the exception the call raised, if any.
        start, end: ``wall_time()`` when it started and ended (``None`` while running).
        details: what the backend and cache reported (``onetwo.core.tracing``).
        children: the traced calls made while this one ran.
    """

    name: str
    kind: str = "function"
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    outputs: Any = None
    error: BaseException | None = None
    start: float = 0.0
    end: float | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    # A leaf (most nodes: one per model call) has no children list until it gets a child:
    # a long trace then holds half as many objects for the garbage collector to scan.
    _children: list[Trace] | None = None  # the 9th argument; read it as ``children``

    @property
    def children(self) -> list[Trace]:
        if self._children is None:
            self._children = []
        return self._children

    # The reference OneTwo's names (its ExecutionResult), for code written against it. Its
    # ``outputs`` is a dict ({"output": value} for a value not a dict); here it is the value.
    stage_name = property(operator.attrgetter("name"), doc="``name``.")
    stages = children
    info = property(operator.attrgetter("details"), doc="``details``.")
    start_time = property(operator.attrgetter("start"), doc="``start``.")
    end_time = property(lambda self: self.end or 0.0, doc="``end``, 0.0 while running.")

    def get_elapsed_time(self) -> float:
        """``duration``, 0.0 while running."""
        return self.duration or 0.0

    def get_leaf_results(self) -> list[Trace]:
        """The nodes with no children (the innermost calls), in the order they started."""
        return [node for node in self.walk() if not node._children]

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        return None if self.end is None else self.end - self.start

    def walk(self) -> Iterator[Trace]:
        """This node and every node below it, depth first, parents before children."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node._children:
                stack.extend(reversed(node._children))

    def find(self, name: str) -> Trace | None:
        """The first node (depth first) called ``name``, or ``None``."""
        return next((n for n in self.walk() if n.name == name), None)

    def calls(self, name: str | None = None) -> list[Trace]:
        """The builtin calls in this tree (only those called ``name``, if given)."""
        return [n for n in self.walk() if n.kind == "builtin" and (name is None or n.name == name)]

    def stats(self) -> TraceStats:
        """Call, token, cache and error counts over this tree."""
        calls = model_calls = prompt = completion = hits = misses = errors = 0
        for node in self.walk():
            errors += node.error is not None
            calls += node.kind == "builtin"
            d = node.details
            if d:
                model_calls += "backend" in d
                prompt += d.get("prompt_tokens") or 0
                completion += d.get("completion_tokens") or 0
                hit = d.get("cache_hit")
                hits += hit is True
                misses += hit is False
        return TraceStats(calls, model_calls, prompt, completion, hits, misses, errors)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy: values JSON cannot hold (an error) become their ``repr``."""
        data = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)[:-1]}
        data["children"] = [c.to_dict() for c in self.children]  # the last field, _children
        return data

    def facts(self) -> list[str]:
        """What the backend and cache reported, short: ``["fake:m", "3+1 tokens", "cache hit"]``."""
        d, facts = self.details, []
        if "backend" in d:
            facts.append(f"{d['backend']}:{d.get('model', '')}")
        if d.get("prompt_tokens") is not None or d.get("completion_tokens") is not None:
            facts.append(f"{d.get('prompt_tokens', '?')}+{d.get('completion_tokens', '?')} tokens")
        if d.get("cache_hit") is not None:
            facts.append("cache hit" if d["cache_hit"] else "cache miss")
        return facts

    def __repr__(self) -> str:
        # Cheap on purpose (no walk of the tree): asyncio and debuggers call repr freely.
        parts = [repr(self.name), self.kind]
        if self._children:
            parts.append(f"{len(self._children)} children")
        parts += self.facts()
        if self.duration is not None:
            parts.append(f"{self.duration * 1000:.1f} ms")
        if self.error is not None:
            parts.append(f"error={self.error!r:.60}")
        return f"Trace({', '.join(parts)})"

    def _repr_html_(self) -> str:
        return HTMLRenderer().render(self)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)
