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
from typing import Any

from lakelib._httpserver import JsonHandler, LocalServer
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


class WebhookServer(LocalServer):
    def __init__(self, address: tuple[str, int], settings: Settings, max_body: int) -> None:
        super().__init__(address, _Handler)
        self.settings = settings
        self.max_body = max_body
        # One landing at a time: file names and the state document are per source.
        self.lock = threading.Lock()


class _Handler(JsonHandler):
    server: WebhookServer

    def do_GET(self) -> None:
        if self.path == "/ping":
            self.reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self.error(HTTPStatus.NOT_FOUND, "POST records to /ingest/<source>")

    def do_POST(self) -> None:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        source = parts[1] if len(parts) == 2 and parts[0] == "ingest" else None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return self.error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        ctype = self.headers.get("Content-Type", "")
        try:
            if source is None:
                raise Rejected(HTTPStatus.NOT_FOUND, "POST records to /ingest/<source>")
            check_request(source, ctype, length, self.server.settings, self.server.max_body)
        except Rejected as exc:
            self._drain(length)
            return self.error(exc.status, exc.message)
        body = self.rfile.read(length)
        origin = f"webhook:{self.client_address[0]}"
        with self.server.lock:
            status, answer = land_payload(source, body, ctype, origin, self.server.settings)
        self.reply(status, answer)

    def _drain(self, length: int) -> None:
        """Read a small body we are refusing, so the client sees our answer, not a reset."""
        if 0 < length <= self.server.max_body:
            self.rfile.read(length)
        elif length:
            self.close_connection = True


class Rejected(Exception):
    """A webhook request refused with an HTTP status and a message for the caller."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_request(
    source: str, content_type: str, length: int, settings: Settings, max_body: int
) -> None:
    """Refuse a request before its body is read: bad or undeclared source, type, size."""
    try:
        validate_name(source, "source")
    except ValidationError as exc:
        raise Rejected(HTTPStatus.BAD_REQUEST, str(exc)) from None
    declared = settings.section("sources")
    if source not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise Rejected(HTTPStatus.NOT_FOUND, f"unknown source {source!r} (declared: {known})")
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in ACCEPTED_TYPES:
        raise Rejected(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"send application/json or application/x-ndjson, not {ctype}",
        )
    if length > max_body:
        raise Rejected(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"body of {length:,} bytes exceeds the limit of {max_body:,} bytes",
        )
    if length == 0:
        raise Rejected(HTTPStatus.BAD_REQUEST, "empty body: send JSON or JSON lines")


def land_payload(
    source: str, body: bytes, content_type: str, origin: str, settings: Settings
) -> tuple[HTTPStatus, dict[str, Any]]:
    """Land a checked body; the HTTP status and JSON answer for the caller."""
    from lakelib.ingest._run import ingest

    if not body.strip():
        return HTTPStatus.BAD_REQUEST, {"error": "empty body: send JSON or JSON lines"}
    payload = PayloadSource(body, origin=origin, content_type=content_type)
    try:
        summary = ingest(source, payload, settings=settings)
    except ValidationError as exc:
        return HTTPStatus.BAD_REQUEST, {"error": str(exc)}
    except LakeError as exc:
        log.error("webhook ingest failed: %s", exc)
        return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)}
    duplicate = bool(summary.skipped_inputs)
    answer: dict[str, Any] = {
        k: getattr(summary, k) for k in ("run_id", "read", "landed", "quarantined")
    }
    answer.update(files=summary.files, reasons=summary.reasons, duplicate=duplicate)
    return (HTTPStatus.OK if duplicate else HTTPStatus.ACCEPTED), answer


def make_webhook_server(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    settings: Settings | None = None,
) -> WebhookServer:
    """A ready (not yet serving) webhook server; ``port=0`` picks a free port."""
    return WebhookServer((host, port), settings or get_settings(), max_body)
