"""What a request through ``OpenAIAPI`` adds over the raw ``AsyncOpenAI`` call.

An instant OpenAI-compatible server (stdlib asyncio, a canned ``chat/completions``
answer, keep-alive) runs in a child process on 127.0.0.1, so that the figures are the
client side's alone. Inside one ``ot.run`` (on onetwo's runtime loop, where the
backend's clients live), the raw SDK call (the floor)

    await client.chat.completions.create(model=..., messages=[user turn], max_tokens=8)

and the same request through the backend

    await backend.generate_text("Hi", max_tokens=8)   # OpenAIAPI(..., use_completions=False)

alternate call by call (the order swapped every round), each timed on its own; the
medians and their difference are printed. A third row goes through the builtin
(``llm.generate_text`` with the backend registered), for the dispatch on top.

    .venv/bin/python benchmarks/bench_backend_overhead.py [--calls 3000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

_ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }
).encode()
_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(_ANSWER),
    _ANSWER,
)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            writer.write(_RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


async def _measure(url: str, calls: int, profile: bool) -> dict[str, list[float]]:
    import openai

    from onetwo.backends.openai_api import OpenAIAPI
    from onetwo.builtins import llm

    raw = openai.AsyncOpenAI(api_key="unused", base_url=url, max_retries=0)
    backend = OpenAIAPI("bench", base_url=url, use_completions=False)
    backend.register()
    messages = [{"role": "user", "content": "Hi"}]

    async def floor() -> str:
        response = await raw.chat.completions.create(
            model="bench",
            messages=messages,  # type: ignore[arg-type]
            max_tokens=8,
        )
        return response.choices[0].message.content or ""

    async def through_backend() -> str:
        return str(await backend.generate_text("Hi", max_tokens=8))

    async def through_builtin() -> str:
        return str(await llm.generate_text("Hi", max_tokens=8))

    variants = {"raw": floor, "backend": through_backend, "builtin": through_builtin}
    for fn in variants.values():  # warm up: connections, imports, caches
        for _ in range(200):
            assert await fn() == "Hello there."
    times: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants.items())
    profiler = cProfile.Profile() if profile else None
    for i in range(calls):
        for name, fn in order if i % 2 else reversed(order):
            if profiler is not None and name == "backend":
                profiler.enable()
            start = time.perf_counter_ns()
            await fn()
            times[name].append((time.perf_counter_ns() - start) / 1000)
            if profiler is not None and name == "backend":
                profiler.disable()
    await raw.close()
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="cProfile the backend calls")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.serve:
        asyncio.run(_serve())
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        from onetwo import ot

        measure = ot.make_executable(_measure)
        times = ot.run(measure(f"http://127.0.0.1:{port}/v1", a.calls, a.profile))
    finally:
        server.terminate()
        server.wait()
    med = {name: statistics.median(values) for name, values in times.items()}
    rows = [("variant", "median µs", "over raw µs")]
    for name, label in [
        ("raw", "raw AsyncOpenAI (floor)"),
        ("backend", "OpenAIAPI.generate_text"),
        ("builtin", "llm.generate_text"),
    ]:
        rows.append((label, f"{med[name]:.1f}", f"{med[name] - med['raw']:.1f}"))
    print(table(rows))
    print(f"\n{a.calls} interleaved calls per variant; target: OpenAIAPI adds <= 60 µs")


if __name__ == "__main__":
    main()
