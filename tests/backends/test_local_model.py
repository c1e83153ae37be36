"""The embedded local model: lazy in-process llama.cpp server, shorthand names, extras."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from onetwo import ot
from onetwo.backends import backend
from onetwo.builtins import llm
from onetwo.errors import ConfigurationError


def test_import_onetwo_needs_no_sdk() -> None:
    blocked = ("openai", "google.genai", "xllamacpp", "httpx2")
    code = (
        f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
        "import onetwo, onetwo.ot, onetwo.backends, onetwo.backends.fake\n"
        "from onetwo.backends import backend, local_backend, network\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("module", "sdk", "extra"),
    [
        ("onetwo.backends.openai_api", "openai", "onetwo[openai]"),
        ("onetwo.backends.google_genai_api", "google.genai", "onetwo[gemini]"),
        ("onetwo.backends.local", "openai", "onetwo[local]"),
    ],
)
def test_a_missing_sdk_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, sdk: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, sdk, None)
    for name in (module, "onetwo.backends.openai_api"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        importlib.import_module(module)


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
    server.stop()
    assert server.url is None and "stopped" in repr(server)


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
    async def strategy(question: str) -> tuple[list[str], int]:
        drafts = await ot.parallel(
            *(llm.generate_text(question, temperature=1.0) for _ in range(3))
        )
        best = await llm.select(question, drafts)
        return drafts, best

    drafts, best = ot.run(strategy("Q: What color is the sky?\nA:"))
    assert len(drafts) == 3 and 0 <= best < 3
