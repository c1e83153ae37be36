"""An OpenAI-compatible chat server whose replies come from a script, for wire-format tests.

The tiny local model does not call tools, so native function calling is tested against
:class:`ScriptedChatServer`: a real HTTP server on 127.0.0.1 speaking the chat
completions protocol (``tools``, ``tool_choice``, ``tool_calls``, the ``tool`` role,
image content parts), whose reply to each request is ``script(body)``: a message dict
(``{"content": ..., "tool_calls": [{"name", "arguments"}]}``). Every request body is
recorded in :attr:`ScriptedChatServer.requests` so tests check what a backend sent.

Example:
    >>> server = ScriptedChatServer(lambda body: {"content": "Hi"}).start()  # doctest: +SKIP
    >>> OpenAIAPI("m", base_url=server.url + "/v1", use_completions=False)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.rig.loopback import JSONHandler, LoopbackServer

__all__ = ["Script", "ScriptedChatServer", "chat_completion"]

Script = Callable[[dict[str, Any]], dict[str, Any]]


def chat_completion(body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """A chat completion answering ``body`` with ``message`` (tool calls get ids, and
    their arguments are JSON-encoded as the protocol has them)."""
    calls = [
        {
            "id": call.get("id", f"call_{i}"),
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
        }
        for i, call in enumerate(message.get("tool_calls") or ())
    ]
    reply: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "scripted"),
        "choices": [
            {"index": 0, "message": reply, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class ScriptedChatServer(LoopbackServer):
    """The server; see the module docstring."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []


class _Handler(JSONHandler):
    owner: ScriptedChatServer

    def do_POST(self) -> None:
        body = self.read_json()
        self.owner.requests.append(body)
        if self.path.split("?")[0].endswith("/chat/completions"):
            status, payload = 200, chat_completion(body, self.owner.script(body))
        else:
            status, payload = 404, {"error": {"code": 404, "message": f"no route {self.path}"}}
        self.send_json(status, payload)


ScriptedChatServer.handler = _Handler
