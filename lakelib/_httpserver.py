"""The small base every local HTTP server of the lake shares (webhook, sample API, endpoint).

Threaded, bound to 127.0.0.1 by the callers' defaults, HTTP/1.1, JSON answers with a length.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

log = logging.getLogger(__name__)


class LocalServer(ThreadingHTTPServer):
    """A threaded server whose worker threads never keep the process alive."""

    daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class JsonHandler(BaseHTTPRequestHandler):
    """Request handler with length-delimited bodies and JSON replies."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def send_body(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply(self, status: int, document: Any) -> None:
        self.send_body(status, orjson.dumps(document))

    def error(self, status: HTTPStatus, message: str) -> None:
        self.reply(status, {"error": message})
