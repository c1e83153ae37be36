"""Image chunks render as thumbnails (``data:`` URLs) in values and traces."""

from __future__ import annotations

import base64
import io

import pytest

from onetwo.core import rendering, tracing
from onetwo.core.content import Chunk, ChunkList
from tests.html_page import parse

PNG = b"\x89PNG\r\n\x1a\n<not really a picture>"


def decoded(image: dict[str, str | None]) -> tuple[str, bytes]:
    head, _, data = (image["src"] or "").partition(";base64,")
    return head.removeprefix("data:"), base64.b64decode(data)


def test_a_chunk_list_shows_its_text_and_its_image() -> None:
    page = parse(rendering.HTMLRenderer().render(ChunkList(["A cat:", Chunk(PNG, "image/png")])))
    [image] = page.images
    assert decoded(image) == ("image/png", PNG)
    assert "max-height:96px" in (image["style"] or "") and "image/png" in (image["alt"] or "")
    assert "A cat:" in "".join(page.text)


def test_images_in_trace_inputs_and_outputs_are_thumbnails() -> None:
    jpeg = Chunk(b"\xff\xd8\xff<jpeg>", "image/jpeg")
    node = tracing.Trace("draw", inputs={"prompt": jpeg}, start=0.0, end=1.0)
    node.outputs = ChunkList(["done", Chunk(PNG, "image/png")])
    images = parse(rendering.HTMLRenderer().render(node)).images
    assert [decoded(i) for i in images] == [("image/jpeg", jpeg.content), ("image/png", PNG)]


def test_other_bytes_keep_their_text_rendering() -> None:
    page = rendering.HTMLRenderer().render(ChunkList([Chunk(b"%PDF", "application/pdf")]))
    assert not parse(page).images and "&lt;application/pdf&gt;" in page


def test_a_pil_image_is_encoded_as_png() -> None:
    image_module = pytest.importorskip("PIL.Image")
    chunk = Chunk(image_module.new("RGB", (2, 2), "red"))
    [image] = parse(rendering.HTMLRenderer().render(chunk)).images
    mime, data = decoded(image)
    assert mime == "image/png" and image_module.open(io.BytesIO(data)).size == (2, 2)
