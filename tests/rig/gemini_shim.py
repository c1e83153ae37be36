"""A local server that speaks Gemini's REST API and answers from an OpenAI-protocol server.

No local model server speaks Gemini's wire format, so the Gemini backend's tests point
``google-genai`` at this shim (``HttpOptions(base_url=shim.url)``), which translates each
call to the llama.cpp server running the real local model:

| Gemini route (``/v1`` and ``/v1beta``)       | llama.cpp call                         |
|----------------------------------------------|----------------------------------------|
| ``models/{m}:generateContent``               | ``/v1/chat/completions``               |
| ``models/{m}:streamGenerateContent?alt=sse`` | ``/v1/chat/completions`` with stream   |
| ``models/{m}:countTokens``                   | ``/tokenize``                          |
| ``models/{m}:batchEmbedContents`` / ``:embedContent`` | ``/v1/embeddings``            |
| ``GET models/{m}``                           | (answered locally)                     |

With ``thinkingConfig.includeThoughts``, a reply starts with a ``thought`` part: what the
model answers when asked to think about the conversation first (a second upstream call,
at most ``thinkingBudget`` tokens).

Every request is recorded in :attr:`GeminiShim.requests` (path, headers, body) so tests
can check what the SDK sent. Standard library only.

Example:
    >>> shim = GeminiShim("http://127.0.0.1:8080").start()   # doctest: +SKIP
    >>> client = genai.Client(api_key="x", http_options=HttpOptions(base_url=shim.url))
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.error
import urllib.request
from typing import Any

from tests.rig.loopback import JSONHandler, LoopbackServer

# Servers on this machine: environment proxies must not intercept.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

__all__ = ["GeminiShim", "RecordedRequest"]

_ROUTE = re.compile(r"^/(?:[^?]*/)?(v1|v1beta)/models/([^:/?]+)(?::(\w+))?(?:\?.*)?$")
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", None: None}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class RecordedRequest:
    """One request the shim received."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"RecordedRequest({self.method} {self.path})"


class _UpstreamError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _text_of(content: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in content.get("parts", []))


def _json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style ``responseSchema`` (``"type": "OBJECT"``) → JSON schema."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "type" and isinstance(value, str):
                out[key] = value.lower()
            elif key in ("propertyOrdering", "nullable"):
                continue
            else:
                out[key] = _json_schema(value)
        return out
    if isinstance(schema, list):
        return [_json_schema(v) for v in schema]
    return schema


def to_openai_chat(model: str, body: dict[str, Any]) -> dict[str, Any]:
    """A ``generateContent`` request body as an OpenAI chat completions request."""
    messages = []
    system = body.get("systemInstruction")
    if system:
        messages.append({"role": "system", "content": _text_of(system)})
    for content in body.get("contents", []):
        role = "assistant" if content.get("role") == "model" else "user"
        messages.append({"role": role, "content": _text_of(content)})
    request: dict[str, Any] = {"model": model, "messages": messages}
    config = body.get("generationConfig") or {}
    for gemini, openai in (
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("topK", "top_k"),
        ("maxOutputTokens", "max_tokens"),
        ("stopSequences", "stop"),
        ("seed", "seed"),
        ("candidateCount", "n"),
    ):
        if gemini in config:
            request[openai] = config[gemini]
    if config.get("responseLogprobs"):
        request["logprobs"] = True
        if "logprobs" in config:
            request["top_logprobs"] = config["logprobs"]
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema is not None:
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": _json_schema(schema)},
        }
    elif config.get("responseMimeType") == "application/json":
        request["response_format"] = {"type": "json_object"}
    return request


def _logprobs_result(logprobs: dict[str, Any] | None) -> dict[str, Any] | None:
    if not logprobs or not logprobs.get("content"):
        return None
    chosen, top = [], []
    for entry in logprobs["content"]:
        chosen.append(
            {
                "token": entry["token"],
                "tokenId": entry.get("id"),
                "logProbability": entry["logprob"],
            }
        )
        top.append(
            {
                "candidates": [
                    {"token": t["token"], "tokenId": t.get("id"), "logProbability": t["logprob"]}
                    for t in entry.get("top_logprobs", [])
                ]
            }
        )
    return {"chosenCandidates": chosen, "topCandidates": top}


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "promptTokenCount": usage.get("prompt_tokens", 0),
        "candidatesTokenCount": usage.get("completion_tokens", 0),
        "totalTokenCount": usage.get("total_tokens", 0),
    }


def to_gemini_response(response: dict[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI chat completion as a ``GenerateContentResponse``."""
    candidates = []
    for choice in response.get("choices", []):
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": choice["message"]["content"] or ""}]},
            "finishReason": _FINISH.get(choice.get("finish_reason"), "OTHER"),
            "index": choice.get("index", 0),
        }
        logprobs = _logprobs_result(choice.get("logprobs"))
        if logprobs:
            candidate["logprobsResult"] = logprobs
            values = [c["logProbability"] for c in logprobs["chosenCandidates"]]
            candidate["avgLogprobs"] = sum(values) / len(values)
        candidates.append(candidate)
    out: dict[str, Any] = {"candidates": candidates, "modelVersion": model}
    if response.get("usage"):
        out["usageMetadata"] = _usage(response["usage"])
    if response.get("id"):
        out["responseId"] = response["id"]
    return out


class GeminiShim(LoopbackServer):
    """The shim server; see the module docstring.

    Args:
        upstream: the OpenAI-protocol server's root URL, e.g. ``http://127.0.0.1:8080``
            (llama.cpp: ``/v1/...`` for the API, ``/tokenize`` at the root).
        upstream_model: the model name to send upstream (any Gemini model name maps to it).
    """

    def __init__(self, upstream: str, upstream_model: str = "smollm2") -> None:
        self.upstream = upstream.rstrip("/")
        self.upstream_model = upstream_model
        self.requests: list[RecordedRequest] = []

    # --- upstream calls -------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.upstream + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with _NO_PROXY.open(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise _UpstreamError(e.code, f"upstream: {detail[:500]}") from e

    def generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        request = to_openai_chat(self.upstream_model, body)
        response = to_gemini_response(self._post("/v1/chat/completions", request), model)
        # (The SDK sends this object's fields as it holds them: snake_case, which Gemini
        # accepts as protobuf JSON does.)
        thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
        budget = thinking.get("thinkingBudget", thinking.get("thinking_budget", -1))
        include = thinking.get("includeThoughts", thinking.get("include_thoughts"))
        if include and budget != 0 and response["candidates"]:
            # A thinking model's thought summary comes first, as a part marked "thought".
            thought = {"text": self._think(request, budget), "thought": True}
            response["candidates"][0]["content"]["parts"].insert(0, thought)
        return response

    def _think(self, request: dict[str, Any], budget: int) -> str:
        """The model's own notes on the conversation, at most ``budget`` tokens (-1: 48)."""
        ask = "Think briefly about how to answer the message above. Do not answer it yet."
        messages = [*request["messages"], {"role": "user", "content": ask}]
        limit = budget if budget > 0 else 48
        reply = self._post(
            "/v1/chat/completions",
            {"model": self.upstream_model, "messages": messages, "max_tokens": limit},
        )
        return str(reply["choices"][0]["message"]["content"] or "")

    def stream(self, model: str, body: dict[str, Any]) -> Any:
        """Yield ``GenerateContentResponse`` chunks from an upstream SSE stream."""
        request = to_openai_chat(self.upstream_model, body)
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
        upstream = urllib.request.Request(
            self.upstream + "/v1/chat/completions",
            data=json.dumps(request).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            response = _NO_PROXY.open(upstream, timeout=120)
        except urllib.error.HTTPError as e:
            raise _UpstreamError(e.code, e.read().decode(errors="replace")[:500]) from e
        final: dict[str, Any] | None = None  # Gemini puts finish and usage on one last chunk
        with response:
            for raw in response:
                line = raw.decode().strip()
                if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                    continue
                chunk = json.loads(line[5:])
                if chunk.get("choices"):
                    choice = chunk["choices"][0]
                    text = (choice.get("delta") or {}).get("content") or ""
                    candidate: dict[str, Any] = {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "index": 0,
                    }
                    out = {"candidates": [candidate], "modelVersion": model}
                    if choice.get("finish_reason"):
                        candidate["finishReason"] = _FINISH.get(choice["finish_reason"], "OTHER")
                        final = out
                        continue
                    yield out
                if chunk.get("usage"):
                    final = final or {"modelVersion": model}
                    final["usageMetadata"] = _usage(chunk["usage"])
        if final is not None:
            yield final

    def count_tokens(self, body: dict[str, Any]) -> dict[str, Any]:
        contents = body.get("contents") or (body.get("generateContentRequest") or {}).get(
            "contents", []
        )
        text = "".join(_text_of(c) for c in contents)
        tokens = self._post("/tokenize", {"content": text})["tokens"]
        return {"totalTokens": len(tokens)}

    def embed(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        inputs = [_text_of(r["content"]) for r in requests]
        response = self._post("/v1/embeddings", {"model": self.upstream_model, "input": inputs})
        vectors = [d["embedding"] for d in sorted(response["data"], key=lambda d: d["index"])]
        out = []
        for request, vector in zip(requests, vectors):
            size = request.get("outputDimensionality")
            out.append({"values": vector[:size] if size else vector})
        return {"embeddings": out}


class _Handler(JSONHandler):
    owner: GeminiShim

    def _error(self, status: int, message: str) -> None:
        self.send_json(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "status": _STATUS_NAMES.get(status, "UNKNOWN"),
                }
            },
        )

    def do_GET(self) -> None:
        self.owner.requests.append(RecordedRequest("GET", self.path, dict(self.headers), None))
        match = _ROUTE.match(self.path)
        if not match or match.group(3):
            return self._error(404, f"no route for GET {self.path}")
        model = match.group(2)
        self.send_json(200, {"name": f"models/{model}", "displayName": model})

    def do_POST(self) -> None:
        try:
            body = self.read_json()
        except ValueError:
            return self._error(400, "the request body is not JSON")
        self.owner.requests.append(RecordedRequest("POST", self.path, dict(self.headers), body))
        match = _ROUTE.match(self.path)
        if not match or not match.group(3):
            return self._error(404, f"no route for POST {self.path}")
        model, method = match.group(2), match.group(3)
        try:
            if method == "generateContent":
                self.send_json(200, self.owner.generate(model, body))
            elif method == "streamGenerateContent":
                self._stream(model, body)
            elif method == "countTokens":
                self.send_json(200, self.owner.count_tokens(body))
            elif method == "batchEmbedContents":
                self.send_json(200, self.owner.embed(body.get("requests", [])))
            elif method == "embedContent":
                embedded = self.owner.embed([body])
                self.send_json(200, {"embedding": embedded["embeddings"][0]})
            else:
                self._error(404, f"unknown method {method!r}")
        except _UpstreamError as e:
            self._error(e.status, e.message)

    def _stream(self, model: str, body: dict[str, Any]) -> None:
        chunks = self.owner.stream(model, body)
        first = next(chunks, None)  # upstream errors surface before the 200 is sent
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for chunk in itertools.chain([first] if first is not None else [], chunks):
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()


GeminiShim.handler = _Handler  # defined after the server class it serves
