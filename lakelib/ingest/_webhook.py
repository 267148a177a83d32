"""``lake serve-ingest``: an HTTP webhook that lands posted records through the same path.

``POST /ingest/<source>`` with JSON (one object or an array) or JSON lines. Answers
``202`` with the run's counts, ``200`` when the same body was landed before, and a 4xx with a
JSON ``{"error": ...}`` message for bad input: unknown source (404), bad name (400), empty or
unparseable body (400), too large (413), wrong content type (415). Only sources declared in
``[sources]`` of ``lake.toml`` are accepted, so a caller cannot create new folders in the lake.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from lakelib.config import Settings, get_settings
from lakelib.errors import LakeError, ValidationError
from lakelib.sources import PayloadSource
from lakelib.storage import validate_name

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 6 * 1024 * 1024  # API Gateway's own payload limit is 10 MB; Lambda's 6 MB
ACCEPTED_TYPES = (
    "",
    "application/json",
    "application/x-ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "text/plain",
)


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: Settings, max_body: int) -> None:
        super().__init__(address, _Handler)
        self.settings = settings
        self.max_body = max_body
        # One landing at a time: file names and the state document are per source.
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._reply(status, {"error": message})

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self._error(HTTPStatus.NOT_FOUND, "POST records to /ingest/<source>")

    def do_POST(self) -> None:
        from lakelib.ingest._run import ingest

        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 2 or parts[0] != "ingest":
            self._drain()
            return self._error(HTTPStatus.NOT_FOUND, "POST records to /ingest/<source>")
        source = parts[1]
        try:
            validate_name(source, "source")
        except ValidationError as exc:
            self._drain()
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        declared = self.server.settings.section("sources")
        if source not in declared:
            self._drain()
            known = ", ".join(sorted(declared)) or "none"
            return self._error(
                HTTPStatus.NOT_FOUND, f"unknown source {source!r} (declared: {known})"
            )
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype not in ACCEPTED_TYPES:
            self._drain()
            return self._error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"send application/json or application/x-ndjson, not {ctype}",
            )
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        if length > self.server.max_body:
            self.close_connection = True
            return self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length:,} bytes exceeds the limit of {self.server.max_body:,} bytes",
            )
        body = self.rfile.read(length)
        if not body.strip():
            return self._error(HTTPStatus.BAD_REQUEST, "empty body: send JSON or JSON lines")
        payload = PayloadSource(
            body, origin=f"webhook:{self.client_address[0]}", content_type=ctype
        )
        try:
            with self.server.lock:
                summary = ingest(source, payload, settings=self.server.settings)
        except ValidationError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except LakeError as exc:
            log.error("webhook ingest failed: %s", exc)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
        duplicate = bool(summary.skipped_inputs)
        counts = {k: getattr(summary, k) for k in ("run_id", "read", "landed", "quarantined")}
        counts.update(files=summary.files, reasons=summary.reasons, duplicate=duplicate)
        self._reply(HTTPStatus.OK if duplicate else HTTPStatus.ACCEPTED, counts)

    def _drain(self) -> None:
        """Read a small body we are refusing, so the client sees our answer, not a reset."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = 0
        if 0 < length <= self.server.max_body:
            self.rfile.read(length)
        else:
            self.close_connection = True


def make_webhook_server(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    settings: Settings | None = None,
) -> WebhookServer:
    """A ready (not yet serving) webhook server; ``port=0`` picks a free port."""
    return WebhookServer((host, port), settings or get_settings(), max_body)
