"""The main job: a small multi-step strategy, run end to end.

Run it with ``python -m onetwo.demo``.
"""

from __future__ import annotations

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm

__all__ = ["main", "strategy"]


@ot.make_executable
async def strategy(question: str) -> dict[str, object]:
    """Draft three answers in parallel, then pick the likeliest with ``llm.select``."""
    drafts = await ot.parallel(*(llm.generate_text(question) for _ in range(3)))
    best = await llm.select(question, drafts)
    return {"question": question, "drafts": drafts, "best": drafts[best]}


def main() -> None:
    FakeBackend(default_reply=" blue").register()
    print(ot.run(strategy("Q: What color is the sky?\nA:")))


if __name__ == "__main__":
    main()
