"""A fault-injecting HTTP proxy, for testing retries and error handling against real servers.

:class:`FaultProxy` forwards every request to an upstream server (the llama.cpp server,
or the Gemini shim) unchanged, except that the next requests can be given faults first,
in order: an error status (with ``retry-after``), a malformed JSON body, JSON of the wrong
shape, an HTML page, a slow answer, the real answer trickled a few bytes at a time or
stalled half-way, a dropped or reset connection, or a redirect. Once the scripted faults
are used up, requests pass through. Every request received, faulted or not, is recorded
(method, path, headers, body), so tests count what a backend really sent.

Example:
    >>> proxy = FaultProxy("http://127.0.0.1:8080").start()   # doctest: +SKIP
    >>> proxy.inject(Fault.status(429, retry_after=0.1), Fault.status(500))
    >>> # the next two requests fail, the third reaches the model
    >>> proxy.paths   # the path of every request received
"""

from __future__ import annotations

import dataclasses
import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.rig.loopback import LoopbackServer

# Servers on this machine: environment proxies must not intercept.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

__all__ = ["Fault", "FaultProxy", "Received"]


@dataclasses.dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or before) forwarding it.

    Build with :meth:`status`, :meth:`malformed`, :meth:`wrong_shape`, :meth:`html`,
    :meth:`slow`, :meth:`trickle`, :meth:`stall`, :meth:`drop`, :meth:`reset` or
    :meth:`redirect`.
    """

    kind: str
    status_code: int = 200
    retry_after: float | None = None
    body: Any = None
    delay: float = 0.0
    location: str = ""
    chunk: int = 0

    @classmethod
    def status(cls, code: int, *, retry_after: float | None = None, body: Any = None) -> Fault:
        """Answer ``code`` with a JSON error body (and a ``retry-after`` header if given)."""
        return cls("status", status_code=code, retry_after=retry_after, body=body)

    @classmethod
    def malformed(cls) -> Fault:
        """Answer 200 with a body that claims to be JSON but is not."""
        return cls("malformed")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds``, then forward the request (a client timeout fires first)."""
        return cls("slow", delay=seconds)

    @classmethod
    def wrong_shape(cls, body: Any = None) -> Fault:
        """Answer 200 with valid JSON that is not what the API returns (default
        ``{"unexpected": true}``)."""
        return cls("wrong_shape", body={"unexpected": True} if body is None else body)

    @classmethod
    def html(cls) -> Fault:
        """Answer 200 with an HTML page (a captive portal, a web server's index)."""
        return cls("html")

    @classmethod
    def trickle(cls, every: float, chunk: int = 4) -> Fault:
        """Forward the request, then send the real answer ``chunk`` bytes at a time, one
        chunk every ``every`` seconds: each read is quick, the whole answer slow."""
        return cls("trickle", delay=every, chunk=chunk)

    @classmethod
    def stall(cls, seconds: float = 30.0) -> Fault:
        """Forward the request, send the answer's headers and half its body, then send
        nothing more for ``seconds`` (or until the client hangs up)."""
        return cls("stall", delay=seconds)

    @classmethod
    def reset(cls) -> Fault:
        """Forward the request, send the headers and half the body, then reset the
        connection (TCP RST)."""
        return cls("reset")

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls("drop")

    @classmethod
    def redirect(cls, location: str) -> Fault:
        """Answer ``307 Temporary Redirect`` to ``location``."""
        return cls("redirect", status_code=307, location=location)


@dataclasses.dataclass(frozen=True)
class Received:
    """One request the proxy received: method, path, headers (lower-case names), body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FaultProxy(LoopbackServer):
    """The proxy server; see the module docstring.

    Args:
        upstream: the root URL requests are forwarded to (the path is kept).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[Received] = []
        self.faults_served: list[Fault] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()

    def inject(self, *faults: Fault) -> None:
        """Apply ``faults`` to the next requests, one each, in order."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        """Forget pending faults and recorded requests."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.faults_served.clear()

    @property
    def paths(self) -> list[str]:
        """The path of each request received, in order."""
        return [r.path for r in self.requests]

    @property
    def pending(self) -> int:
        return len(self._faults)

    def _next_fault(self, received: Received) -> Fault | None:
        with self._lock:
            self.requests.append(received)
            fault = self._faults.popleft() if self._faults else None
            if fault is not None:
                self.faults_served.append(fault)
            return fault


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        fault = self.owner._next_fault(
            Received(
                method, self.path, {k.lower(): v for k, v in self.headers.items()}, _decode(body)
            )
        )
        if fault is not None:
            if fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.kind == "status":
                return self._fail(fault)
            if fault.kind == "redirect":
                return self._send(307, b"", "text/plain", {"Location": fault.location})
            if fault.kind == "malformed":
                return self._send(200, b'{"choices": [{"text": "unterminated', "application/json")
            if fault.kind == "wrong_shape":
                return self._send(200, json.dumps(fault.body).encode(), "application/json")
            if fault.kind == "html":
                return self._send(200, _HTML, "text/html; charset=utf-8")
            if fault.kind == "slow":
                time.sleep(fault.delay)
        status, data, content_type = self._forward(method, body)
        if fault is not None and fault.kind in ("trickle", "stall", "reset"):
            return self._spoil(fault, status, data, content_type)
        self._send(status, data, content_type)

    def _spoil(self, fault: Fault, status: int, data: bytes, content_type: str) -> None:
        """Send the real answer, spoiled in time (trickle, stall) or cut off (reset)."""
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault.kind == "trickle":
                for i in range(0, len(data), fault.chunk):
                    self.wfile.write(data[i : i + fault.chunk])
                    self.wfile.flush()
                    time.sleep(fault.delay)
                return
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if fault.kind == "stall":
                self.connection.settimeout(fault.delay)
                self.connection.recv(1)  # returns when the client hangs up, or times out
            else:  # SO_LINGER 0: close() sends RST instead of FIN
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
        except OSError:  # the client gave up first, as it should
            pass

    def _fail(self, fault: Fault) -> None:
        code = fault.status_code
        payload = fault.body or {
            "error": {
                "code": code,
                "message": f"injected HTTP {code}",
                "type": "injected",
                "status": "INJECTED",
            }
        }
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        self._send(code, json.dumps(payload).encode(), "application/json", headers)

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) before the answer
            self.close_connection = True

    def _forward(self, method: str, body: bytes | None) -> tuple[int, bytes, str]:
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("host", "content-length", "connection", "accept-encoding")
        }
        request = urllib.request.Request(
            self.owner.upstream + self.path, data=body, headers=headers, method=method
        )
        try:
            with _NO_PROXY.open(request, timeout=120) as response:
                status, data = response.status, response.read()
                content_type = response.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
            content_type = e.headers.get("Content-Type", "application/json")
        return status, data, content_type


_HTML = b"<!doctype html><html><head><title>Welcome</title></head><body>It works!</body></html>"


def _decode(body: bytes | None) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


FaultProxy.handler = _Handler  # defined after the server class it serves
