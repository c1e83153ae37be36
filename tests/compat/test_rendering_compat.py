"""OneTwo's ``HTMLRenderer(levels_to_expand=...)``: how many levels start expanded."""

from __future__ import annotations

from onetwo import ot
from onetwo.core import tracing


def nested(depth: int) -> tracing.Trace:
    """A chain of ``depth`` nodes: n0 > n1 > ... ."""
    root = node = tracing.Trace("n0", start=0.0, end=1.0)
    for i in range(1, depth):
        child = tracing.Trace(f"n{i}", start=0.0, end=1.0)
        node.children.append(child)
        node = child
    return root


def test_levels_to_expand_opens_that_many_levels() -> None:
    trace = nested(4)
    for levels in range(5):
        markup = ot.HTMLRenderer(levels_to_expand=levels).render(trace)
        assert markup.count("<details open>") == levels
        assert markup.count("<details>") == 4 - levels  # the rest are there, collapsed


def test_levels_to_expand_is_the_first_positional_argument_and_readable() -> None:
    renderer = ot.HTMLRenderer(2)
    assert renderer.levels_to_expand == 2
    assert renderer.render(nested(3)).count("<details open>") == 2


def test_our_open_depth_still_works_and_levels_to_expand_wins() -> None:
    assert ot.HTMLRenderer(open_depth=3).render(nested(4)).count("<details open>") == 3
    both = ot.HTMLRenderer(levels_to_expand=1, open_depth=3)
    assert both.render(nested(4)).count("<details open>") == 1


def test_a_leaf_result_renders_on_its_own() -> None:
    # As in OneTwo's tutorial: ot.HTMLRenderer().render(trace.get_leaf_results()[0]).
    trace = nested(3)
    trace.children[0].children[0].inputs["prompt"] = "<q>"
    markup = ot.HTMLRenderer().render(trace.get_leaf_results()[0])
    assert "n2" in markup and "&lt;q&gt;" in markup and "n0" not in markup
