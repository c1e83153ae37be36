"""llm.select and llm.rank as OneTwo users know them, with the scoring methods."""

from __future__ import annotations

import math

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.builtins.choice import Scores
from onetwo.errors import ConfigurationError


def test_select_returns_the_option_and_rank_the_options() -> None:
    FakeBackend(scores={"red": -2.0, "blue": -0.5, "green": -1.0}).register()
    options = ["red", "blue", "green"]
    option, index, scores = ot.run(llm.select("Sky?", options, include_details=True))
    assert (option, index) == ("blue", 1)
    assert isinstance(scores, Scores) and scores.method == "score_text:mean"
    assert ot.run(llm.rank("Sky?", options, top_k=0)) == ["blue", "green", "red"]
    ranked, scores = ot.run(llm.rank("Sky?", options, 0, include_details=True))
    assert ranked == ["blue", "green", "red"] and scores == [-2.0, -0.5, -1.0]
    assert ot.run(llm.rank("Sky?", options, top_k=5)) == ["blue", "green", "red"]


def test_the_scoring_methods_differ_on_options_of_different_lengths() -> None:
    # Summed log-probs after "Q:" (the fake tokenizes on spaces); -1.0 after anything else.
    sums = {" a b c": -3.0, " d": -2.0, "": 0.0, " e": -0.5}
    FakeBackend(scores=lambda prompt, target: sums[target] if prompt == "Q:" else -1.0).register()
    options = [" a b c", " d", ""]
    assert ot.run(llm.select("Q:", options, scoring="sum")) == ""  # empty: log p = 0, best
    option, _, scores = ot.run(llm.select("Q:", options, include_details=True))
    assert option == " a b c" and scores == [-1.0, -2.0, -math.inf]  # empty never wins
    # normalized: minus the score after the unconditional prompt (-1.0 for every target)
    option, _, scores = ot.run(
        llm.select("Q:", [" a b c", " e"], include_details=True, scoring="normalized")
    )
    assert option == " e" and scores == [-2.0, 0.5] and scores.method == "score_text:normalized"


def test_bad_choice_arguments_are_refused_before_any_call() -> None:
    backend = FakeBackend(scores={"a": 0.0})
    backend.register()
    with pytest.raises(ValueError, match=r"top_k must be an int >= 0.*got -1"):
        ot.run(llm.rank("q", ["a", "b"], top_k=-1))
    with pytest.raises(ValueError, match=r"scoring must be one of.*'max'"):
        ot.run(llm.select("q", ["a"], scoring="max"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="options must be a list of texts, got str"):
        ot.run(llm.select("q", "abc"))
    with pytest.raises(ValueError, match="non-empty list of options"):
        ot.run(llm.rank("q", []))
    with pytest.raises(TypeError, match=r"targets must be a list of texts, got str 'abc'"):
        llm.score_text("q", "abc")  # refused when called: the letters are never scored
    assert ot.run(llm.score_text("q", ("a",))) == [0.0]
    assert [c.name for c in backend.calls] == ["score_text"]


def test_mean_scoring_without_a_tokenizer_falls_back_to_the_sum_and_says_so() -> None:
    llm.score_text.configure(lambda prompt, targets: [-len(t) for t in targets])
    _, _, scores = ot.run(llm.select("q", ["aa", "b"], include_details=True))
    assert scores == [-2, -1] and scores.method == "score_text:sum"
    with pytest.raises(ConfigurationError, match="tokenize"):
        ot.run(llm.select("q", ["aa", "b"], scoring="mean"))
