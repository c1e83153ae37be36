"""A parsed HTML page for the rendering tests: its tags, its images' attributes, its text."""

from __future__ import annotations

import html.parser

__all__ = ["Page", "parse"]


class Page(html.parser.HTMLParser):
    """What a test reads back from rendered HTML (tags as they open, ``<img>`` attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> Page:
    """``markup`` parsed, e.g. ``"img" in parse(html).tags``."""
    page = Page()
    page.feed(markup)
    return page
