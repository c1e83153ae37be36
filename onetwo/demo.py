"""The main job: a multi-step strategy on the embedded local model, then its exact replay.

Run it with ``python -m onetwo.demo`` (no API key, no network: SmolLM2-135M runs
in-process on llama.cpp). It

1. drafts three answers per question, sampled concurrently (``ot.repeat``), for several
   questions at once (``ot.par_iter``), with every call written to a cache folder; a
   draft is the first non-empty line the model writes (a reply may start with a newline);
2. picks the likeliest draft of each with ``llm.select``, which scores the drafts with the
   model's log-probabilities, and shows each draft's score;
3. runs the same experiment again on a fresh backend in ``replay`` mode: every call comes
   back from the cache folder, sample for sample, and no model is contacted.

The drafts are sampled at temperature 0.8 with a seed (``--seed``, default 0) that each
sample combines with its sampling key: a rerun draws the same drafts (up to llama.cpp's
batching, which can change a near-tie), and the three drafts of a question still differ.

``--scoring`` picks how a draft's token log-probs make its score
(``onetwo.builtins.choice``): ``mean`` (default) compares drafts per token, so a long
good answer can beat a short one and an empty draft never wins; ``sum`` favours the
shortest drafts (an empty one scores 0.0, the best possible: it used to win here);
``normalized`` favours the drafts the question makes likelier than they are anyway.
Measured on the embedded model with seed 0: ``mean`` picks "No answer was provided."
for the color (a fluent sentence beats "red") and "They make wax, pollen, and nectar."
for the bees; ``sum`` picks "Red" and "Wasp" (the shortest drafts); ``normalized``
picks "red" and "They make wax, pollen, and nectar.".

Options: ``--cache DIR`` keeps the cache folder (default: a temporary one), ``--fake``
runs on the scripted fake backend instead of the local model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.backends.local import LocalServer, local_backend
from onetwo.builtins import llm
from onetwo.builtins.choice import SCORINGS, Scoring
from onetwo.core.caching import CallCache

__all__ = ["QUESTIONS", "main", "strategy"]

QUESTIONS = [
    "What is the capital of France?",
    "Name a primary color.",
    "What do bees make?",
]
EXAMPLE = "Question: What is 2+2?\nShort answer: 4\n"
"""One worked example: with it the model answers on the answer's own line."""


def first_line(text: str) -> str:
    """The first line of ``text`` that is not blank, stripped ("" if there is none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


@ot.make_executable
async def strategy(
    question: str, drafts: int = 3, scoring: Scoring | None = None
) -> dict[str, Any]:
    """Sample ``drafts`` short answers concurrently, then select the likeliest one."""
    prompt = f"{EXAMPLE}Question: {question}\nShort answer:"
    draft = llm.generate_text(prompt, temperature=0.8, max_tokens=12)
    answers = [first_line(r) for r in await ot.parallel(*ot.repeat(draft, drafts))]
    options = [" " + a if a else "" for a in answers]
    _, best, scores = await llm.select(prompt, options, include_details=True, scoring=scoring)
    return {
        "question": question,
        "drafts": [(a or "(empty)", round(s, 3)) for a, s in zip(answers, scores)],
        "best": answers[best] or "(empty)",
        "method": scores.method,
    }


_SERVER: Any = None


def _make_backend(fake: bool, cache: CallCache, seed: int) -> Any:
    if fake:
        return FakeBackend(default_reply=" Paris", cache=cache)
    # One decoding slot: llama.cpp then decodes each request alone, so a seeded sample
    # is the same on every run (batched with others, its logits can differ slightly).
    global _SERVER
    _SERVER = _SERVER or LocalServer(n_parallel=1, embedding=False)
    return local_backend(cache=cache, seed=seed, server=_SERVER)


def _run(
    fake: bool, cache: CallCache, seed: int, scoring: Scoring | None
) -> tuple[list[dict[str, Any]], float]:
    with ot.RegistryContext():
        _make_backend(fake, cache, seed).register()
        start = time.perf_counter()
        results = ot.run(ot.par_iter(strategy(q, scoring=scoring) for q in QUESTIONS))
        return results, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="onetwo's main job (see the module doc).")
    parser.add_argument("--cache", help="cache folder to keep (default: a temporary one)")
    parser.add_argument("--fake", action="store_true", help="use the scripted fake backend")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--scoring", choices=SCORINGS, help="how drafts are scored (mean)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onetwo-demo-") as tmp:
        folder = args.cache or tmp
        first_cache = CallCache(folder)
        first, first_s = _run(args.fake, first_cache, args.seed, args.scoring)
        for r in first:
            print(f"{r['question']}\n  drafts: {r['drafts']}\n  best:   {r['best']!r}")
        print(
            f"\nscores: {first[0]['method']}; first run: {first_s:.2f} s, cache "
            f"{first_cache.stats()}"
        )

        replay_cache = CallCache(folder, mode="replay")  # a miss would raise CacheMiss
        replayed, replay_s = _run(args.fake, replay_cache, args.seed, args.scoring)
        same = replayed == first
        print(f"replay:    {replay_s:.2f} s, cache {replay_cache.stats()}, identical: {same}")
        if not same:
            raise SystemExit("the replay differs from the first run")


if __name__ == "__main__":
    main()
