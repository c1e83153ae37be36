"""The main job: a multi-step strategy on the embedded local model, then its exact replay.

Run it with ``python -m onetwo.demo`` (no API key, no network: SmolLM2-135M runs
in-process on llama.cpp). It

1. drafts three answers per question, sampled concurrently (``ot.repeat``), for several
   questions at once (``ot.par_iter``), with every call written to a cache folder;
2. picks the likeliest draft of each with ``llm.select``, which scores the drafts with the
   model's log-probabilities;
3. runs the same experiment again on a fresh backend in ``replay`` mode: every call comes
   back from the cache folder, sample for sample, and no model is contacted.

Options: ``--cache DIR`` keeps the cache folder (default: a temporary one), ``--fake``
runs on the scripted fake backend instead of the local model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core.caching import CallCache

__all__ = ["QUESTIONS", "main", "strategy"]

QUESTIONS = [
    "What is the capital of France?",
    "Name a primary color.",
    "What do bees make?",
]


@ot.make_executable
async def strategy(question: str, drafts: int = 3) -> dict[str, Any]:
    """Sample ``drafts`` short answers concurrently, then select the likeliest one."""
    prompt = f"Question: {question}\nShort answer:"
    answers = await ot.parallel(
        *ot.repeat(llm.generate_text(prompt, temperature=0.8, max_tokens=12, stop=["\n"]), drafts)
    )
    answers = [a.strip() or "(empty)" for a in answers]
    best = await llm.select(prompt, [" " + a for a in answers])
    return {"question": question, "drafts": answers, "best": answers[best]}


def _make_backend(fake: bool, cache: CallCache) -> Any:
    if fake:
        from onetwo.backends.fake import FakeBackend

        return FakeBackend(default_reply=" Paris", cache=cache)
    from onetwo.backends import local_backend

    return local_backend(cache=cache)


def _run(fake: bool, cache: CallCache) -> tuple[list[dict[str, Any]], float]:
    with ot.RegistryContext():
        _make_backend(fake, cache).register()
        start = time.perf_counter()
        results = ot.run(ot.par_iter(strategy(q) for q in QUESTIONS))
        return results, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="onetwo's main job (see the module doc).")
    parser.add_argument("--cache", help="cache folder to keep (default: a temporary one)")
    parser.add_argument("--fake", action="store_true", help="use the scripted fake backend")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onetwo-demo-") as tmp:
        folder = args.cache or tmp
        first_cache = CallCache(folder)
        first, first_s = _run(args.fake, first_cache)
        for r in first:
            print(f"{r['question']}\n  drafts: {r['drafts']}\n  best:   {r['best']!r}")
        print(f"\nfirst run: {first_s:.2f} s, cache {first_cache.stats()}")

        replay_cache = CallCache(folder, mode="replay")  # a miss would raise CacheMiss
        replayed, replay_s = _run(args.fake, replay_cache)
        same = replayed == first
        print(f"replay:    {replay_s:.2f} s, cache {replay_cache.stats()}, identical: {same}")
        if not same:
            raise SystemExit("the replay differs from the first run")


if __name__ == "__main__":
    main()
