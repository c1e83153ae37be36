"""HTML for notebooks: values and traces, and the pieces other display code builds on.

Traces display in Jupyter and Colab through ``_repr_html_``, which calls
:class:`HTMLRenderer`: everything from a run escaped (``<script>`` shows as text), nested
parts in collapsible ``<details>``, long values cut, images as thumbnails. It reads a trace
through the :class:`TraceLike` protocol (it does not import tracing); the evaluation layer
extends it for its results (``onetwo.evaluation.rendering``, ``ot.HTMLRenderer``).
:func:`escape`, :func:`pre`, :func:`details` and :func:`table` serve other display code.

Example:
    >>> html = ot.HTMLRenderer(levels_to_expand=2).render(trace)   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import pprint
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from onetwo.core.content import Chunk, ChunkList, Message

__all__ = [
    "HTMLRenderer",
    "TraceLike",
    "details",
    "error_block",
    "escape",
    "pre",
    "seconds",
    "table",
    "thumbnail",
]


@runtime_checkable
class TraceLike(Protocol):
    """What the renderer reads of a trace node (``onetwo.core.tracing.Trace``)."""

    name: str
    kind: str
    inputs: dict[str, Any]
    outputs: Any
    error: BaseException | None
    end: float | None
    details: dict[str, Any]

    @property
    def duration(self) -> float | None: ...

    @property
    def children(self) -> Sequence[TraceLike]: ...

    def facts(self) -> list[str]: ...

    def stats(self) -> Any: ...


_STYLE = (
    "<style>.onetwo{font-family:system-ui,sans-serif;font-size:13px}"
    ".onetwo details{margin:2px 0 2px 1.2em}.onetwo summary{cursor:pointer}"
    ".onetwo table{border-collapse:collapse;margin:4px 0}"
    ".onetwo th,.onetwo td{border:1px solid #8886;padding:2px 6px;text-align:left;"
    "vertical-align:top}.onetwo pre{white-space:pre-wrap;word-break:break-word;margin:0;"
    "font-size:12px}.onetwo .ot-dim{opacity:.65}.onetwo .ot-err{color:#d33}</style>"
)
# Shown in a node's headline (its facts()) rather than in its details table.
_HEADLINE_DETAILS = {"backend", "model", "prompt_tokens", "completion_tokens", "cache_hit"}


def escape(value: Any) -> str:
    """``value`` as text safe to put in HTML (``<``, ``>``, ``&`` and quotes escaped)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def _text(value: Any, limit: int) -> str:
    if isinstance(value, str | ChunkList):
        text = str(value)
    elif isinstance(value, BaseException):
        text = f"{type(value).__name__}: {value}"
    else:
        text = pprint.pformat(value, width=100, sort_dicts=False)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def pre(value: Any, limit: int = 2000) -> str:
    """``value`` (a string as is, anything else pretty-printed), cut, escaped, in ``<pre>``;
    an image chunk (or a chunk list holding one) shows as thumbnails between its texts."""
    chunks = ChunkList([value] if isinstance(value, Chunk | ChunkList) else [])
    if not any(c.content_type.startswith("image/") for c in chunks):
        return f"<pre>{escape(_text(value, limit))}</pre>"
    return "".join(
        thumbnail(c) if c.content_type.startswith("image/") else pre(str(c), limit) for c in chunks
    )


def thumbnail(chunk: Chunk) -> str:
    """An image chunk as a small ``<img>`` holding its bytes (a ``data:`` URL)."""
    data, mime = chunk.as_bytes()
    src = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    alt = escape(f"{mime} image, {len(data)} bytes")
    return f'<img src="{src}" alt="{alt}" style="max-height:96px">'


def details(summary: str, body: str, *, open: bool = False) -> str:
    """A collapsible block; ``summary`` and ``body`` are HTML already."""
    return f"<details{' open' if open else ''}><summary>{summary}</summary>{body}</details>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; ``headers`` are plain text (escaped here), cells are HTML already."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def seconds(value: float | None) -> str:
    """A duration for a reader: ``"250.0 ms"``, ``"1.50 s"``, or ``""`` for None."""
    if value is None:
        return ""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def error_block(error: BaseException | None) -> str:
    """An error as ``Type: message``, escaped, in red."""
    return f'<div class="ot-err">{pre(error)}</div>'


class HTMLRenderer:
    """Renders traces and plain values as self-contained, escaped HTML.

    Args:
        levels_to_expand: OneTwo's name for ``open_depth`` (it wins when given).
        max_chars: longer values are cut to this many characters.
        max_rows: at most this many children of a trace node / rows of a table.
        open_depth: trace nodes less deep than this start expanded (1: the top one).
    """

    def __init__(
        self,
        levels_to_expand: int | None = None,
        *,
        max_chars: int = 2000,
        max_rows: int = 200,
        open_depth: int = 1,
    ) -> None:
        self.max_chars = max_chars
        self.max_rows = max_rows
        self.open_depth = open_depth if levels_to_expand is None else levels_to_expand

    @property
    def levels_to_expand(self) -> int:
        return self.open_depth

    def render(self, obj: Any) -> str:
        """The HTML of ``obj``: a trace, or any value (pretty-printed)."""
        return f'<div class="onetwo">{_STYLE}{self.body(obj)}</div>'

    def body(self, obj: Any) -> str:
        """What :meth:`render` puts inside its ``<div>``; subclasses add kinds of object."""
        return self.trace(obj) if isinstance(obj, TraceLike) else self.value(obj)

    # --- values ------------------------------------------------------------------

    def value(self, value: Any) -> str:
        """A value: chat messages by role, dicts as key/value rows, the rest in ``<pre>``."""
        if isinstance(value, list | tuple) and value and all(isinstance(m, Message) for m in value):
            rows = [(f"<b>{escape(m.role)}</b>", pre(m.content, self.max_chars)) for m in value]
            return table(["role", "content"], rows)
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            rows = [(escape(k), pre(v, self.max_chars)) for k, v in value.items()]
            return table(["name", "value"], rows)
        return pre(value, self.max_chars)

    def short(self, value: Any, limit: int = 80) -> str:
        """``value`` on one line, cut at ``limit`` characters, escaped."""
        return escape(_text(value, limit).replace("\n", " ⏎ "))

    # --- traces --------------------------------------------------------------------

    def trace(self, node: TraceLike, depth: int = 0) -> str:
        """A trace node and its children, as nested collapsible blocks."""
        extra = {k: v for k, v in node.details.items() if k not in _HEADLINE_DETAILS}
        done = node.error is None and (node.end is not None or node.outputs is not None)
        sections: dict[str, Any] = {
            "inputs": node.inputs and self.value(node.inputs),
            "error": node.error is not None and error_block(node.error),
            "output": done and self.value(node.outputs),
            "details": extra and self.value(extra),
        }
        parts = [f'<div><span class="ot-dim">{k}</span>{v}</div>' for k, v in sections.items() if v]
        parts.extend(self.trace(child, depth + 1) for child in node.children[: self.max_rows])
        if (more := len(node.children) - self.max_rows) > 0:
            parts.append(f'<div class="ot-dim">… {more} more calls</div>')
        return details(self._headline(node), "".join(parts), open=depth < self.open_depth)

    def _headline(self, node: TraceLike) -> str:
        bits = [f"<b>{escape(node.name)}</b>", *map(escape, node.facts())]
        bits.append("running…" if node.duration is None else seconds(node.duration))
        calls = 0 if node.kind == "builtin" else node.stats().calls
        if calls:
            bits.append(f"{calls} calls")
        if node.error is not None:
            bits.append(f'<span class="ot-err">{self.short(node.error)}</span>')
        elif node.end is not None:
            bits.append(f'<span class="ot-dim">→ {self.short(node.outputs)}</span>')
        return " · ".join(bits)
