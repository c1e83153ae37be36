"""A separate process for the call-cache tests (run by test_caching_processes.py).

Usage: python cache_worker.py ROLE FOLDER [options]; prints one JSON line with what it
saw: ``results`` and ``calls`` (the prompts the backend actually executed, in order).

Roles:
    samples  a strategy of nested ``ot.repeat`` samples under ``ot.par_iter``, with random
             delays before each call and random model latencies (``--seed``).
    many     ``--count`` distinct calls; with ``--log``, each model call appends its
             prompt to that file as it starts (so a test can kill us mid-run).
    range    prompts ``--start``..``--stop``, each replied ``"<--tag>|<prompt>"`` after
             ``--latency`` seconds (with ``--log``, logged as the call starts); with
             ``--first K``, in the order K..stop, then start..K.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from typing import Any

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import sampling
from onetwo.core.caching import CallCache


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["samples", "many", "range"])
    parser.add_argument("folder")
    parser.add_argument("--mode", default="read_write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--outer", type=int, default=3)
    parser.add_argument("--inner", type=int, default=2)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--log", default="")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, default=0)
    parser.add_argument("--first", type=int, default=None, help="range: begin at this prompt")
    parser.add_argument("--tag", default="")
    parser.add_argument("--at", type=float, default=0.0, help="start at this time.time()")
    parser.add_argument("--go", default="", help="start at the time.time() this file gives")
    parser.add_argument("--latency", type=float, default=0.001)
    parser.add_argument("--lease", type=float, default=60.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cache = CallCache(args.folder, mode=args.mode, lease=args.lease)
    log = open(args.log, "a", buffering=1) if args.log else None

    async def random_reply(prompt: str, **_: Any) -> str:
        await asyncio.sleep(rng.random() * 0.004)
        return f"{prompt}|{rng.getrandbits(48):x}"

    if args.role == "samples":
        backend = FakeBackend(regex_replies=[(".", random_reply)], cache=cache)
        backend.register()

        @ot.make_executable
        async def jittered(prompt: str) -> str:
            await asyncio.sleep(rng.random() * 0.004)  # shuffle the order calls arrive in
            return await llm.generate_text(prompt, temperature=1.0)

        strategy = ot.par_iter(
            [
                sampling.repeat_and_execute(
                    sampling.repeat_and_execute(jittered(f"prompt {i}"), args.inner), args.outer
                )
                for i in range(args.prompts)
            ],
            chunk_size=5,
        )
    elif args.role == "many":

        async def logged_reply(prompt: str, **_: Any) -> str:
            if log is not None:
                log.write(prompt + "\n")
            await asyncio.sleep(0.003)
            return f"answer to {prompt}"

        backend = FakeBackend(regex_replies=[(".", logged_reply)], cache=cache)
        backend.register()
        strategy = ot.par_iter(
            [llm.generate_text(f"question {i}") for i in range(args.count)], chunk_size=10
        )
    else:

        async def tagged_reply(prompt: str, **_: Any) -> str:
            if log is not None:
                log.write(prompt + "\n")
            await asyncio.sleep(args.latency)
            return f"{args.tag}|{prompt}"

        backend = FakeBackend(regex_replies=[(".", tagged_reply)], cache=cache)
        backend.register()
        first = args.start if args.first is None else args.first
        order = [*range(first, args.stop), *range(args.start, first)]
        strategy = ot.par_iter([llm.generate_text(f"shared {i}") for i in order], chunk_size=8)

    time.sleep(max(0.0, args.at - time.time()))  # lets two workers start together
    while args.go and not os.path.exists(args.go):  # the test says when, once both opened
        time.sleep(0.005)
    if args.go:
        with open(args.go) as go:
            time.sleep(max(0.0, float(go.read()) - time.time()))  # both start together
    results = ot.run(strategy)
    print(json.dumps({"results": results, "calls": backend.prompts, "stats": cache.stats()}))


if __name__ == "__main__":
    main()
