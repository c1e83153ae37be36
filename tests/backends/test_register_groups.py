"""``register(register_generate=, register_tokenize=, register_embed=)``: OneTwo's flags.

The reference's notebooks register one backend for generation and a second one for
embeddings only; a group whose flag is False keeps the implementation it had.
"""

from __future__ import annotations

from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from tests.rig.gemini_shim import GeminiShim

pytestmark = pytest.mark.rig
genai_api = pytest.importorskip("onetwo.backends.google_genai_api")


def gemini(shim: GeminiShim) -> Any:
    return genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash",
        api_key="gemini-test-key-0123456789",
        base_url=shim.url,
        embedding_dimensions=16,
        max_tokens=3,
    )


def test_an_embedder_registers_embed_alone(gemini_shim: GeminiShim) -> None:
    with ot.RegistryContext():
        FakeBackend(default_reply="from the fake", embedding_size=8).register()
        embedder = gemini(gemini_shim)
        embedder.register(register_generate=False, register_tokenize=False)
        sent = len(gemini_shim.requests)
        assert ot.run(llm.generate_text("Hi")) == "from the fake"
        assert ot.run(llm.instruct("Hi")) == "from the fake"
        assert ot.run(llm.count_tokens("one two")) == len(ot.run(llm.tokenize("one two")))
        assert len(gemini_shim.requests) == sent  # none of those reached Gemini
        assert len(ot.run(llm.embed("a zebra"))) == 16
        assert len(gemini_shim.requests) == sent + 1


def test_a_generator_leaves_embed_and_tokens_to_another_backend(
    gemini_shim: GeminiShim,
) -> None:
    with ot.RegistryContext():
        fake = FakeBackend(default_reply="from the fake", embedding_size=8)
        fake.register()
        gemini(gemini_shim).register(register_embed=False, register_tokenize=False)
        sent = len(gemini_shim.requests)
        assert ot.run(llm.generate_text("Name a color:")) != "from the fake"
        assert ot.run(llm.instruct("Name a color.")) != "from the fake"
        assert len(gemini_shim.requests) == sent + 2
        assert len(ot.run(llm.embed("a zebra"))) == 8
        assert ot.run(llm.tokenize("one two")) == ot.run(fake.tokenize("one two"))
        assert len(gemini_shim.requests) == sent + 2


def test_by_default_every_builtin_is_the_new_backends(gemini_shim: GeminiShim) -> None:
    with ot.RegistryContext():
        FakeBackend(default_reply="from the fake", embedding_size=8).register()
        gemini(gemini_shim).register()
        assert ot.run(llm.generate_text("Name a color:")) != "from the fake"
        assert len(ot.run(llm.embed("a zebra"))) == 16
