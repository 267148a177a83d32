"""``lake serve-ingest``: an HTTP webhook that lands posted records through the same path.

``POST /ingest/<source>`` with JSON (one object or an array) or JSON lines. Answers
``202`` with the run's counts, ``200`` when the same body was landed before, and a 4xx with a
JSON ``{"error": ...}`` message for bad input: unknown source (404), bad name (400), empty or
unparseable body (400), too large (413), wrong content type (415), a malformed
``Content-Length`` (400; :mod:`lakelib._httpserver` has the server's limits). Only sources
declared in ``[sources]`` of ``lake.toml`` are accepted, so a caller cannot create new
folders in the lake.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from lakelib._httpserver import (
    LocalServer,
    Request,
    Response,
    ServerLimits,
    error_response,
    json_response,
    public_message,
)
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
    """The webhook: ``POST /ingest/<source>``, ``GET /ping``; limits from ``limits``."""

    def __init__(
        self,
        address: tuple[str, int],
        settings: Settings,
        max_body: int,
        limits: ServerLimits | None = None,
    ) -> None:
        super().__init__(address, replace(limits or ServerLimits(threads=8), max_body=max_body))
        self.settings = settings

    def handle(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            if request.path == "/ping":
                return json_response(HTTPStatus.OK, {"status": "ok"})
            return error_response(HTTPStatus.NOT_FOUND, "POST records to /ingest/<source>")
        if request.method != "POST":
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, "POST records to /ingest/<source>")
        parts = request.path.strip("/").split("/")
        source = parts[1] if len(parts) == 2 and parts[0] == "ingest" else None
        if not request.has_length:
            return error_response(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        ctype = request.header("Content-Type")
        try:
            if source is None:
                raise Rejected(HTTPStatus.NOT_FOUND, "POST records to /ingest/<source>")
            check_request(source, ctype, len(request.body), self.settings, self.max_body)
        except Rejected as exc:
            return error_response(exc.status, exc.message)
        origin = f"webhook:{request.client}"
        # No lock: landing uses unique names and exclusively created markers, so requests in
        # this process land concurrently like those of another process on the same lake.
        status, answer = land_payload(source, request.body, ctype, origin, self.settings)
        return json_response(status, answer)


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
        return HTTPStatus.BAD_REQUEST, {"error": public_message(str(exc))}
    except (LakeError, OSError) as exc:
        # Disk full, permissions, a storage error: the caller learns the landing failed (and
        # may retry); the log keeps the paths, the answer does not.
        log.error("webhook ingest failed: %s", exc)
        return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": public_message(f"landing failed: {exc}")}
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
    limits: ServerLimits | None = None,
) -> WebhookServer:
    """A ready (not yet serving) webhook server; ``port=0`` picks a free port.

    ``limits`` sets the connection cap, silence timeout and worker threads
    (:class:`lakelib._httpserver.ServerLimits`); ``max_body`` the body limit.
    """
    return WebhookServer((host, port), settings or get_settings(), max_body, limits)
