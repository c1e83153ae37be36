"""An OpenAI-compatible completions server that echoes prompt log-probs, like vLLM's.

OpenAI's legacy completions and vLLM return the log-probs of the prompt's own tokens
when asked with ``echo=True`` and ``logprobs``; llama.cpp's server does not. So that a
backend's scoring by ``echo`` is tested against real model probabilities,
:class:`EchoLogprobServer` answers ``POST /v1/completions`` (``echo=True``) in OpenAI's
legacy format (``tokens``, ``token_logprobs``, ``text_offset``), computing each token's
log-prob with the llama.cpp server: the text's tokens after the first are forced with a
token-id grammar (the rig notes' exact method), the first has none (``null``, as OpenAI
sends it). Every request body is recorded in :attr:`EchoLogprobServer.requests`.

Example:
    >>> server = EchoLogprobServer("http://127.0.0.1:8080").start()   # doctest: +SKIP
    >>> OpenAIAPI("smollm2", base_url=server.url + "/v1")   # scores by echo
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.rig.loopback import JSONHandler, LoopbackServer

__all__ = ["EchoLogprobServer"]

# A server on this machine: environment proxies must not intercept.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EchoLogprobServer(LoopbackServer):
    """The server; see the module docstring. ``upstream``: the llama.cpp server's root."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[dict[str, Any]] = []

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.upstream + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with _NO_PROXY.open(request, timeout=120) as response:
            return json.loads(response.read())

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        text = body["prompt"]
        pieces = self._post("/tokenize", {"content": text, "with_pieces": True})["tokens"]
        ids, texts = [p["id"] for p in pieces], [str(p["piece"]) for p in pieces]
        forced = ids[1:]
        values: list[float | None] = [None]
        if forced:
            grammar = "root ::= " + " ".join(f"<[{i}]>" for i in forced)
            scored = self._post(
                "/v1/completions",
                {
                    "prompt": ids[:1],
                    "max_tokens": len(forced),
                    "temperature": 0.0,
                    "logprobs": 1,
                    "grammar": grammar,
                    "cache_prompt": False,
                },
            )
            values += [e["logprob"] for e in scored["choices"][0]["logprobs"]["content"]]
        offsets = [sum(len(t) for t in texts[:i]) for i in range(len(texts))]
        logprobs = {
            "tokens": texts,
            "token_logprobs": values[: len(texts)],
            "text_offset": offsets,
            "top_logprobs": None,
        }
        choice = {
            "index": 0,
            "text": "".join(texts),
            "logprobs": logprobs,
            "finish_reason": "length",
        }
        return {
            "id": "cmpl-echo",
            "object": "text_completion",
            "created": 0,
            "model": body.get("model", "echo"),
            "choices": [choice],
        }


class _Handler(JSONHandler):
    owner: EchoLogprobServer

    def do_POST(self) -> None:
        body = self.read_json()
        self.owner.requests.append(body)
        if self.path.split("?")[0] == "/v1/completions" and body.get("echo"):
            status, payload = 200, self.owner.complete(body)
        else:
            status, payload = 404, {"error": {"code": 404, "message": f"only echo: {self.path}"}}
        self.send_json(status, payload)


EchoLogprobServer.handler = _Handler
