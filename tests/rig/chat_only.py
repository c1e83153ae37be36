"""An OpenAI-compatible server that serves chat completions only, like many hosted APIs.

:class:`ChatOnlyServer` forwards ``POST /v1/chat/completions`` to an upstream server (the
llama.cpp server with the real model) and answers 404 to everything else: no
``/v1/completions`` (so no prompt log-probs, no ``echo``), no ``/tokenize``. Backends'
tests use it to check what works without those. Every request is recorded, as by
:class:`~tests.rig.faults.FaultProxy` (faults can be injected too).

Example:
    >>> server = ChatOnlyServer("http://127.0.0.1:8080").start()   # doctest: +SKIP
    >>> OpenAIAPI("smollm2", base_url=server.url + "/v1", use_completions=False)
    >>> server.paths   # every request's path
"""

from __future__ import annotations

import json

from tests.rig.faults import FaultProxy
from tests.rig.faults import _Handler as _ProxyHandler

__all__ = ["CHAT_PATH", "ChatOnlyServer"]

CHAT_PATH = "/v1/chat/completions"


class ChatOnlyServer(FaultProxy):
    """The server; see the module docstring. ``upstream`` is the real server's root URL."""


class _Handler(_ProxyHandler):
    def _forward(self, method: str, body: bytes | None) -> tuple[int, bytes, str]:
        if method == "POST" and self.path.split("?")[0] == CHAT_PATH:
            return super()._forward(method, body)
        error = {"error": {"code": 404, "message": f"no route {method} {self.path}"}}
        return 404, json.dumps(error).encode(), "application/json"


ChatOnlyServer.handler = _Handler
