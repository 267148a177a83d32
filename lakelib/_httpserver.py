"""The base every local HTTP server of the lake shares (webhook, sample API, endpoint).

The HTTP side is waitress: an event loop reads requests (and their bodies, up to the limit)
without holding a thread, and a small pool of worker threads runs the handlers. That gives
what the stdlib server lacks:

- strict framing: exactly one ``Content-Length`` of digits only (``-1``, ``+15``, ``1_5`` or
  two headers are a 400), chunked bodies decoded under the same byte limit;
- the body limit enforced on the bytes actually received (413), never on what the client
  declares alone;
- a timeout: a connection silent for ``timeout`` seconds, idle between requests or stalled
  in the middle of a body, is closed;
- a connection cap: past it the server stops accepting and new clients wait in the listen
  backlog (1024) instead of exhausting threads or descriptors; the cap stays under the
  process's descriptor limit;
- ``TCP_NODELAY`` on every connection (headers and body are separate writes; with Nagle on
  the body waited for the client's delayed ACK, ~40 ms a request).

Servers subclass :class:`LocalServer` and implement :meth:`LocalServer.handle`, which takes
a complete :class:`Request` and returns a :class:`Response`. Error answers never carry the
server's file paths (:func:`public_message`). The object keeps the ``socketserver`` shape the
callers use: ``url``, ``server_address``, ``serve_forever()``, ``shutdown()``,
``server_close()``.
"""

from __future__ import annotations

import logging
import re
import resource
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from waitress.server import BaseWSGIServer

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 6 * 1024 * 1024
JSON = "application/json"
# After a refusal, how long and how much of a client's remaining body is read and discarded
# so that the client sees the answer rather than a reset.
LINGER_SECONDS = 5.0
LINGER_BYTES = 16 * 1024 * 1024

# An absolute POSIX path of two or more segments (``/home/me/lake/raw``), also inside a
# ``file://`` URL. Messages from exceptions pass through this before they reach a client.
_ABSOLUTE_PATH = re.compile(
    r"(?:(?<=file:)//|(?<![\w.~:/-]))/(?:[^\s/'\"`<>|;,()\[\]{}]+/+)+([^\s/'\"`<>|;,()\[\]{}]+)"
)


def public_message(text: str) -> str:
    """``text`` with absolute file paths cut down to their last part (``…/model.joblib``).

    Error answers tell the caller what went wrong without showing how the server's disk is
    laid out.
    """

    return _ABSOLUTE_PATH.sub(lambda match: f"…/{match.group(1)}", text)


@dataclass(frozen=True)
class ServerLimits:
    """What one local server accepts before it refuses or waits.

    Parameters
    ----------
    max_body:
        largest request body in bytes (413 above it, counted on the bytes received).
    threads:
        handlers running at once; further complete requests queue (reading requests and
        bodies does not take a thread).
    connections:
        open connections at once; past it new ones wait in the listen backlog. Lowered to
        fit under the process's open-file limit.
    timeout:
        seconds a connection may stay silent (idle, or stalled mid-request) before it is
        closed. Checked once a second, so a close comes up to a second later.
    backlog:
        the listen queue (connections the kernel holds before the server accepts them).
    """

    max_body: int = DEFAULT_MAX_BODY
    threads: int = 4
    connections: int = 1000
    timeout: int = 30
    backlog: int = 1024

    def connection_cap(self) -> int:
        """``connections``, lowered so that open sockets never use up the descriptor limit."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.connections
        # Keep a quarter (at least 16) for what the handlers open: landed files, the model,
        # logs. At the limit waitress stops accepting instead of failing accept() in a loop.
        return max(1, min(self.connections, soft - max(16, soft // 4)))


@dataclass
class Request:
    """One complete request, body included."""

    method: str
    path: str
    """The path as sent (still percent-encoded), without the query."""
    query: str
    headers: Mapping[str, str]
    """Header values by lower-case name (``content-type``)."""
    body: bytes
    client: str
    has_length: bool
    """Whether the request said how long its body is (``Content-Length`` or chunked)."""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """What a handler answers: status, body, content type and any further headers."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, document: Any) -> Response:
    return Response(int(status), orjson.dumps(document))


def error_response(status: int, message: str) -> Response:
    """The lake servers' error shape: ``{"error": message}`` with a 4xx/5xx status."""
    return json_response(status, {"error": message})


class LocalServer:
    """A waitress server for one handler, with the lake's limits.

    Parameters
    ----------
    address:
        ``(host, port)``; port 0 picks a free one.
    limits:
        see :class:`ServerLimits`.
    """

    def __init__(self, address: tuple[str, int], limits: ServerLimits | None = None) -> None:
        from waitress.server import TcpWSGIServer

        self.limits = limits or ServerLimits()
        self.max_body = self.limits.max_body
        # A queue of complete requests waiting for a worker is normal under a burst; waitress
        # warns about each one. The connection-limit warnings stay.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        host, port = address
        self._map: dict[int, Any] = {}
        self._server: BaseWSGIServer = TcpWSGIServer(
            self._wsgi,
            map=self._map,
            host=host,
            port=port,
            ident="lakelib",
            threads=self.limits.threads,
            connection_limit=self.limits.connection_cap(),
            channel_timeout=self.limits.timeout,
            cleanup_interval=1,
            backlog=self.limits.backlog,
            # waitress refuses a body of exactly max_request_body_size; ours is inclusive.
            max_request_body_size=self.limits.max_body + 1,
            # poll(), not select(): select() cannot watch descriptors numbered over 1024.
            asyncore_use_poll=True,
            clear_untrusted_proxy_headers=True,
            expose_tracebacks=False,
            log_socket_errors=False,
        )
        self._server.channel_class = _channel_class(self)
        self._stop = False
        self._stopped = threading.Event()

    # -- socketserver-like surface ----------------------------------------------------------
    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` is called (from another thread)."""
        from waitress import wasyncore

        self._stopped.clear()
        try:
            while not self._stop:
                wasyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)
        finally:
            self._stop = False
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait until it has returned."""
        self._stop = True
        self._server.pull_trigger()
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket and every connection; stop the worker threads."""
        from waitress import wasyncore

        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        wasyncore.close_all(self._map, ignore_all=True)

    # -- what subclasses provide ------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Answer one complete request."""
        raise NotImplementedError

    def refuse(self, status: int, message: str, path: str) -> Response:
        """The answer to a request refused before :meth:`handle` (framing, size, timeout)."""
        return error_response(status, message)

    # -- WSGI -------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = _request(environ)
        try:
            if len(request.body) > self.max_body:  # a chunked body waitress let through
                response = self.refuse(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    _too_large(len(request.body), self.max_body),
                    request.path,
                )
            else:
                response = self.handle(request)
        except Exception as exc:  # a bug, not the caller's fault: log it, keep serving
            log.exception("%s %s failed", request.method, request.path)
            response = self.refuse(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                public_message(f"internal error: {type(exc).__name__}: {exc}"),
                request.path,
            )
        status = HTTPStatus(response.status)
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *response.headers,
        ]
        start_response(f"{status.value} {status.phrase}", headers)
        return [response.body]


def _too_large(length: int | None, limit: int) -> str:
    if length is None:
        return f"body exceeds the limit of {limit:,} bytes"
    return f"body of {length:,} bytes exceeds the limit of {limit:,} bytes"


def _request(environ: dict[str, Any]) -> Request:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = environ["CONTENT_TYPE"]
    has_length = "CONTENT_LENGTH" in environ
    if has_length:
        headers["content-length"] = environ["CONTENT_LENGTH"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    raw = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    if not raw.startswith("/"):  # absolute form: http://host/path
        raw = urllib.parse.urlsplit(raw).path or "/"
    return Request(
        method=environ["REQUEST_METHOD"],
        path=raw.split("?", 1)[0],
        query=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=body,
        client=environ.get("REMOTE_ADDR", ""),
        has_length=has_length,
    )


def _channel_class(owner: LocalServer) -> type:
    """waitress's channel, with its own error answers (bad framing, too large) in our shape."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    # waitress ships no type information: its classes are Any to mypy.
    class _ErrorTask(ErrorTask):  # type: ignore[misc]
        def execute(self) -> None:
            request = self.request
            error = request.error
            message = str(getattr(error, "body", "") or getattr(error, "reason", "bad request"))
            declared = request.headers.get("CONTENT_LENGTH")
            if error.code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                length = request.content_length if not request.chunked else None
                message = _too_large(length, owner.max_body)
            elif message == "Content-Length is invalid":
                message = (
                    f"invalid Content-Length {declared!r}: send exactly one Content-Length "
                    "header of digits only"
                )
            path = str(getattr(request, "request_uri", "/") or "/").split("?", 1)[0]
            try:
                response = owner.refuse(int(error.code), message, path)
            except Exception:  # the refusal itself must not fail
                log.exception("refusal failed")
                response = error_response(int(error.code), message)
            status = HTTPStatus(response.status)
            self.status = f"{status.value} {status.phrase}"
            self.response_headers.extend(
                [("Content-Type", response.content_type), *response.headers]
            )
            self.set_close_on_finish()
            self.content_length = len(response.body)
            self.write(response.body)
            # The client may still be sending the body we refused: drain it before closing.
            self.channel.linger = True

    class _Channel(HTTPChannel):  # type: ignore[misc]
        """waitress's channel with our error answers and a lingering close after them.

        Closing a socket that still has unread input sends a reset, and the client's stack
        may then drop our 413/400 before the client reads it. After a refusal the channel
        shuts down its sending side and reads and discards what the client still sends,
        up to ``LINGER_BYTES`` and ``LINGER_SECONDS``, before closing (Apache's lingering
        close). This runs on the event loop: a lingering client holds no thread.
        """

        error_task_class = _ErrorTask
        linger = False
        _linger_until = 0.0
        _drained = 0
        _closed = False

        def handle_close(self) -> None:
            if self._closed:
                return
            if self.linger and not self._linger_until and not self.total_outbufs_len:
                try:
                    self.socket.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                else:
                    self._linger_until = time.monotonic() + LINGER_SECONDS
                    self.will_close = self.close_when_flushed = False
                    self.last_activity = time.time()
                    return
            self._closed = True
            super().handle_close()

        def readable(self) -> bool:
            if self._linger_until:
                if time.monotonic() > self._linger_until:
                    self.will_close = True  # writable() then lets handle_write close it
                return not self.will_close
            return bool(super().readable())

        def writable(self) -> bool:
            if self._linger_until:
                return self.will_close
            return bool(super().writable())

        def handle_read(self) -> None:
            if not self._linger_until:
                super().handle_read()
                return
            try:
                data = self.socket.recv(65536)
            except OSError:
                data = b""
            self._drained += len(data)
            self.last_activity = time.time()
            if not data or self._drained > max(LINGER_BYTES, 2 * owner.max_body):
                self.handle_close()

        def handle_write(self) -> None:
            if self._linger_until:
                self.handle_close()
                return
            super().handle_write()

    return _Channel
