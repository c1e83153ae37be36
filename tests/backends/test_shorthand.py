"""backend("fake"): the scripted backend by its short name, as the command line uses it."""

from __future__ import annotations

import pytest

from onetwo import ot
from onetwo.backends import backend
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def test_fake_is_a_provider_of_the_shorthand() -> None:
    fake = backend("fake", default_reply="4")
    assert isinstance(fake, FakeBackend) and fake.model == "fake"
    fake.register()
    assert ot.run(llm.generate_text("2+2=")) == "4"
    assert fake.prompts == ["2+2="]
    named = backend("fake:calculator", replies={"1+1=": "2"})
    assert isinstance(named, FakeBackend) and named.model == "calculator"
    assert named.replies == {"1+1=": "2"}


def test_an_unknown_provider_lists_fake_among_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown backend provider 'nosuch'.*'fake'"):
        backend("nosuch:model")
