"""The Gemini shim with function calling: tools, function calls and responses, images.

:class:`ToolGeminiShim` extends :class:`~tests.rig.gemini_shim.GeminiShim`: a
``generateContent`` request's ``tools`` (function declarations) and ``toolConfig``
become OpenAI ``tools`` and ``tool_choice``; ``functionCall`` / ``functionResponse``
parts become assistant ``tool_calls`` and ``tool`` messages; ``inlineData`` parts become
image content parts; and the upstream reply's ``tool_calls`` come back as
``functionCall`` parts. Point it at a :class:`~tests.rig.scripted_chat.ScriptedChatServer`
(the local model does not call tools).

Example:
    >>> shim = ToolGeminiShim(ScriptedChatServer(script).start().url).start()  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.rig.gemini_shim import GeminiShim, to_gemini_response, to_openai_chat

__all__ = ["ToolGeminiShim", "decode_bytes"]

_CHOICES = {"AUTO": "auto", "NONE": "none", "ANY": "required"}


def decode_bytes(data: str) -> bytes:
    """Bytes from the JSON of a Gemini request (the SDK sends URL-safe base64, unpadded)."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = to_openai_chat("m", {"systemInstruction": body.get("systemInstruction")})["messages"]
    for content in body.get("contents", []):
        role = "assistant" if content.get("role") == "model" else "user"
        texts, images, calls = [], [], []
        for part in content.get("parts", []):
            if "text" in part:
                texts.append(part["text"])
            elif "inlineData" in part:
                blob = part["inlineData"]
                mime = blob.get("mimeType") or blob.get("mime_type")  # the SDK sends either
                url = f"data:{mime};base64,{base64.b64encode(decode_bytes(blob['data'])).decode()}"
                images.append({"type": "image_url", "image_url": {"url": url}})
            elif "functionCall" in part:
                call = part["functionCall"]
                arguments = json.dumps(call.get("args", {}))
                function = {"name": call["name"], "arguments": arguments}
                calls.append({"id": call.get("id"), "type": "function", "function": function})
            elif "functionResponse" in part:
                response = part["functionResponse"]
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": response.get("id"),
                        "content": json.dumps(response.get("response")),
                    }
                )
        if calls:
            messages.append({"role": "assistant", "content": "".join(texts), "tool_calls": calls})
        elif images:
            parts = [{"type": "text", "text": t} for t in texts]
            messages.append({"role": role, "content": [*parts, *images]})
        elif texts:
            messages.append({"role": role, "content": "".join(texts)})
    return messages


def _schema_of(declaration: dict[str, Any]) -> Any:
    # google-genai 3.4 spells this key in snake case (the API's JSON parser takes both).
    for key in ("parametersJsonSchema", "parameters_json_schema", "parameters"):
        if key in declaration:
            return declaration[key]
    return None


class ToolGeminiShim(GeminiShim):
    """The shim; see the module docstring."""

    def generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        request = to_openai_chat(self.upstream_model, body)
        request["messages"] = _messages(body)
        declarations = [d for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
        if declarations:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": d["name"],
                        "description": d.get("description", ""),
                        "parameters": _schema_of(d),
                    },
                }
                for d in declarations
            ]
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        if calling.get("allowedFunctionNames"):
            name = calling["allowedFunctionNames"][0]
            request["tool_choice"] = {"type": "function", "function": {"name": name}}
        elif calling.get("mode"):
            request["tool_choice"] = _CHOICES[calling["mode"]]
        response = self._post("/v1/chat/completions", request)
        out = to_gemini_response(response, model)
        for candidate, choice in zip(out["candidates"], response["choices"]):
            for call in choice["message"].get("tool_calls") or ():
                function = call["function"]
                part = {
                    "functionCall": {
                        "id": call["id"],
                        "name": function["name"],
                        "args": json.loads(function["arguments"]),
                    }
                }
                candidate["content"]["parts"].append(part)
        return out
