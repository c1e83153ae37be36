"""A threaded HTTP server on a free 127.0.0.1 port: the base of the rig's test servers.

Subclasses set :attr:`LoopbackServer.handler`, a request handler class whose ``owner``
attribute is set to the server object, so handlers reach its state.

Example:
    >>> class Echo(LoopbackServer):
    ...     handler = EchoHandler          # doctest: +SKIP
    >>> url = Echo().start().url           # doctest: +SKIP
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Self

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """Start/stop and the URL of a loopback server; see the module docstring."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, f"start() the {type(self).__name__} first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        handler = type("Handler", (self.handler,), {"owner": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
