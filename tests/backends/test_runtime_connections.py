"""What the long-lived runtime buys the backends: connections and rate limits across runs.

Each ``ot.run`` runs on onetwo's one runtime loop, so a backend's HTTP client, and its
keep-alive connection, serve every run; a rate limiter holds one budget for all of them,
even when two threads run at once. Connections are counted by a TCP forwarder in front
of the llama.cpp server.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import threading
from collections.abc import Iterator

import pytest

from onetwo import ot
from onetwo.backends import RateLimiter
from onetwo.backends.openai_api import OpenAIAPI
from onetwo.builtins import llm
from tests.rig.clock import RecordingClock


class CountingForwarder:
    """Forwards TCP connections from a free loopback port to ``upstream``; counts them."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").rstrip("/").split(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self._upstream)
            with self._lock:
                self.accepted += 1
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:  # the other side closed
            pass

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()


@pytest.fixture
def forwarder(llama_url: str) -> Iterator[CountingForwarder]:
    forwarder = CountingForwarder(llama_url)
    yield forwarder
    forwarder.close()


def _register(url: str) -> OpenAIAPI:
    backend = OpenAIAPI("smollm2", base_url=url + "/v1", server_kind="llama.cpp", max_tokens=2)
    backend.register()
    return backend


@pytest.mark.rig
def test_fifty_sequential_runs_use_one_connection(forwarder: CountingForwarder) -> None:
    _register(forwarder.url)
    texts = [ot.run(llm.generate_text(f"Count to {i}:")) for i in range(50)]
    assert len(texts) == 50 and all(isinstance(t, str) for t in texts)
    assert forwarder.accepted == 1


@pytest.mark.rig
def test_fifty_runs_from_inside_a_running_loop_use_one_connection(
    forwarder: CountingForwarder,
) -> None:
    _register(forwarder.url)

    async def notebook_cells() -> list[str]:
        # Jupyter: the kernel's loop is running while each cell calls ot.run.
        return [ot.run(llm.generate_text(f"Count to {i}:")) for i in range(50)]

    assert len(asyncio.run(notebook_cells())) == 50
    assert forwarder.accepted == 1


def test_a_requests_per_second_limit_holds_across_two_threads_running_at_once() -> None:
    clock = RecordingClock(advances=False)  # time stands still: every wait is recorded
    limiter = RateLimiter(requests_per_second=4, clock=clock)
    both_ready = threading.Barrier(2)

    @ot.make_executable
    async def request() -> None:
        async with limiter.slot():
            pass

    def three_requests() -> None:
        both_ready.wait()
        ot.run(ot.par_iter(request() for _ in range(3)))

    threads = [threading.Thread(target=three_requests) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One budget: six starts 0.25 s apart (two budgets would give 0.25 and 0.5, twice).
    assert sorted(clock.sleeps) == [0.25, 0.5, 0.75, 1.0, 1.25]
    assert limiter.stats() == {"started": 6, "in_flight": 0, "waiting": 0}


def test_a_rate_limiter_pickles_without_its_runtime_state() -> None:
    limiter = RateLimiter(requests_per_second=4, max_concurrency=2)

    @ot.make_executable
    async def request() -> None:
        async with limiter.slot():
            pass

    ot.run(request())
    again = pickle.loads(pickle.dumps(limiter))
    assert limiter.stats()["started"] == 1 and again.stats()["started"] == 0
    assert (again.requests_per_second, again.max_concurrency) == (4, 2)
