"""One exception tree rooted in OneTwoError; errors pickle with their fields."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from onetwo import errors, ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def test_every_error_derives_from_onetwo_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.OneTwoError), name


def test_the_tree_drawn_in_the_docstring_matches_the_classes() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} missing from the tree in errors' docstring"
    assert issubclass(errors.RateLimited, errors.BackendHTTPError)
    assert issubclass(errors.CacheMiss, errors.CacheError)
    assert issubclass(errors.NetworkBlocked, errors.ConfigurationError)


def test_errors_pickle_with_their_fields() -> None:
    cases = [
        errors.BackendHTTPError("bad", status=400, body={"e": 1}),
        errors.RateLimited("slow down", retry_after=2.5),
        errors.CacheMiss("miss", call="llm.generate_text('q')"),
        errors.TemplateError("oops", template_name="t", line=3),
        errors.OutputParseError("nope", text="reply"),
    ]
    for e in cases:
        clone = pickle.loads(pickle.dumps(e))
        assert type(clone) is type(e) and str(clone) == str(e)
        assert vars(clone) == vars(e)


def test_a_builtin_called_wrongly_raises_an_invalid_argument_error() -> None:
    # Part of the tree, and still the TypeError Python raises for a bad call.
    generate: Any = llm.generate_text  # (wrong calls on purpose)
    bad_calls = [
        lambda: generate("a", "b"),  # too many positional arguments
        lambda: generate(prompt="a", temprature=0.5),  # unknown name
        lambda: generate(),  # the prompt missing
        lambda: generate.configure(42),  # not callable
    ]
    for call in bad_calls:
        with pytest.raises(errors.InvalidArgumentError) as caught:
            call()
        assert isinstance(caught.value, TypeError)
    with ot.RegistryContext():
        FakeBackend(default_reply="x").register()
        with pytest.raises(errors.InvalidArgumentError, match="does not accept it"):
            ot.run(llm.embed("a", task_type="RETRIEVAL_DOCUMENT"))
