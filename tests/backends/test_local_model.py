"""The embedded local model: lazy in-process llama.cpp server, shorthand names, extras."""

from __future__ import annotations

import asyncio
import importlib
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends import backend
from onetwo.builtins import llm
from onetwo.errors import ConfigurationError
from tests.rig.faults import FaultProxy

MISSING_SDKS = """
import sys
for sdk in ("openai", "google.genai", "xllamacpp", "httpx2"):
    sys.modules[sdk] = None  # as if not installed: importing it raises ImportError

import onetwo, onetwo.ot, onetwo.backends.fake
from onetwo.backends import RateLimiter, RetryPolicy, backend, local_backend, network

def extra_named(load):
    try:
        load()
    except ImportError as e:
        return str(e)
    return "imported"

print(extra_named(lambda: __import__("onetwo.backends.openai_api")))
print(extra_named(lambda: __import__("onetwo.backends.google_genai_api")))
print(extra_named(lambda: __import__("onetwo.backends.local")))
print(extra_named(lambda: backend("openai:gpt-4o-mini")))
"""


def test_a_missing_sdk_names_the_extra_and_onetwo_still_imports() -> None:
    out = subprocess.run(
        [sys.executable, "-c", MISSING_SDKS], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    messages = out.stdout.splitlines()
    extras = ["onetwo[openai]", "onetwo[gemini]", "onetwo[local]", "onetwo[openai]"]
    assert len(messages) == len(extras)
    for message, extra in zip(messages, extras, strict=True):
        assert f'pip install "{extra}"' in message, message


def test_shorthand_names_build_the_right_backend() -> None:
    pytest.importorskip("openai")
    from onetwo.backends.local import LocalModel
    from onetwo.backends.openai_api import OpenAIAPI

    local = backend("local:smollm2")
    assert isinstance(local, LocalModel) and local.model == "smollm2"
    assert isinstance(backend("local"), LocalModel)
    remote = backend("openai:gpt-4o-mini", api_key="k")
    assert type(remote) is OpenAIAPI and remote.model == "gpt-4o-mini"
    if importlib.util.find_spec("google.genai"):
        from onetwo.backends.google_genai_api import GoogleGenAIAPI

        gemini = backend("gemini:gemini-2.5-flash")
        assert isinstance(gemini, GoogleGenAIAPI) and gemini.model == "gemini-2.5-flash"
    with pytest.raises(ValueError, match="Unknown backend provider 'anthropic'"):
        backend("anthropic:claude")


def test_unknown_or_missing_model_files_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openai")
    from onetwo.backends import local

    with pytest.raises(ConfigurationError, match="Known models"):
        local.find_model_file("llama-70b")
    with pytest.raises(ConfigurationError, match="No GGUF model file"):
        local.find_model_file("/nowhere/model.gguf")
    monkeypatch.setitem(
        local.KNOWN_MODELS, "ghost", local.ModelFile("no_such_pkg", "x.gguf", "pip install ghost")
    )
    with pytest.raises(ConfigurationError, match="pip install ghost"):
        local.find_model_file("ghost")


def test_a_missing_xllamacpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openai")
    from onetwo.backends.local import LocalServer

    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    with pytest.raises(ConfigurationError, match=r"onetwo\[local\]"):
        LocalServer().start()


@pytest.mark.rig
def test_the_server_starts_lazily_on_the_first_call_and_stops(llama_server: object) -> None:
    from onetwo.backends.local import LocalModel, LocalServer

    server = LocalServer(n_parallel=1, embedding=False)
    model = LocalModel(server=server, max_tokens=4)
    model.register()
    assert server.url is None  # constructing and registering start nothing
    text = ot.run(llm.generate_text("Hello", temperature=0.0))
    assert isinstance(text, str)
    assert server.url is not None and server.url.startswith("http://127.0.0.1:")
    assert "running at http://127.0.0.1:" in repr(server)
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()
    assert server.url is None and "stopped" in repr(server)
    with pytest.raises(ConnectionRefusedError):  # really closed, not just forgotten
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.rig
def test_local_backend_runs_a_multi_step_strategy(llama_server: object) -> None:
    from onetwo.backends.local import local_backend

    model = local_backend(max_tokens=8)
    model.register()
    # No port in the identity: the cache stays valid across restarts on new ports.
    assert model.identity() == {
        "provider": "local",
        "model": "smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "max_tokens": 8,
        "generate_text_via": "completions",
    }

    @ot.make_executable
    async def strategy(question: str) -> tuple[list[str], str]:
        drafts = await ot.parallel(
            *(llm.generate_text(question, temperature=1.0) for _ in range(3))
        )
        best = await llm.select(question, drafts)
        return drafts, best

    drafts, best = ot.run(strategy("Q: What color is the sky?\nA:"))
    assert len(drafts) == 3 and best in drafts


@pytest.mark.rig
def test_a_taken_port_says_so_and_how_to_fix_it(llama_server: object) -> None:
    from onetwo.backends.local import LocalServer

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LocalServer(port=port, n_parallel=1, embedding=False)
        with pytest.raises(ConfigurationError, match=f"port {port} is in use.*port=0"):
            server.start()
    assert server.url is None


@pytest.mark.rig
def test_a_file_llama_cpp_cannot_load_says_so(llama_server: object, tmp_path: Path) -> None:
    from onetwo.backends.local import LocalModel

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model" * 100)
    LocalModel(str(broken)).register()
    with pytest.raises(ConfigurationError, match="could not load") as info:
        ot.run(llm.generate_text("Hi"))
    assert str(broken) in str(info.value) and "verbose=True" in str(info.value)


@pytest.mark.rig
def test_backends_of_the_same_model_share_one_server(llama_server: object) -> None:
    from onetwo.backends.local import LocalModel, local_backend

    assert local_backend().server is llama_server
    assert backend("local:smollm2").server is llama_server  # type: ignore[attr-defined]
    assert LocalModel(max_samples_per_request=2).max_samples_per_request == 2
    assert LocalModel().max_samples_per_request == 4  # n may not exceed the slots


@pytest.mark.rig
def test_ot_run_works_where_a_loop_already_runs_as_in_jupyter(llama_url: str) -> None:
    from onetwo.backends.local import local_backend
    from onetwo.backends.openai_api import OpenAIAPI

    remote = OpenAIAPI("smollm2", base_url=llama_url + "/v1", server_kind="llama.cpp")
    call = llm.generate_text("The capital of France is", max_tokens=4, temperature=0.0)

    async def cell() -> list[str]:  # a notebook cell: the kernel's loop is running
        return [ot.run(call), *ot.run(ot.par_iter([call, call]))]

    for model in (local_backend(), remote):
        model.register()
        texts = asyncio.run(cell())
        assert "Paris" in texts[0] and len(texts) == 3
        assert model._clients.peek()  # one client, kept by the runtime for the next runs


@pytest.mark.rig
def test_two_backends_share_a_cache_folder_without_mixing_answers(
    fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    from onetwo.backends.local import local_backend
    from onetwo.backends.openai_api import OpenAIAPI

    def both(folder: Path) -> list[Any]:
        url = fault_proxy.url + "/v1"
        remote = OpenAIAPI("smollm2", base_url=url, server_kind="llama.cpp", cache=folder)
        return [remote, local_backend(cache=folder)]

    call = llm.generate_text("The capital of France is", max_tokens=4, temperature=0.0)

    def run_both(backends: list[Any]) -> list[str]:
        registries = []
        for model in backends:
            with ot.RegistryContext():
                model.register()
                registries.append(ot.copy_registry())
        return ot.run(ot.parallel(*(ot.with_registry(call, r) for r in registries)))

    first = both(tmp_path / "cache")
    texts = run_both(first)
    assert [m.cache.hits for m in first] == [0, 0]  # neither answered from the other's entry
    assert len(fault_proxy.paths) == 1
    again = both(tmp_path / "cache")  # e.g. the notebook restarted
    assert run_both(again) == texts
    assert [m.cache.hits for m in again] == [1, 1] and len(fault_proxy.paths) == 1
