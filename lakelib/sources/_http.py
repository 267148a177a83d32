"""An HTTP API that returns JSON pages, followed by next-link or cursor pagination.

Page shapes understood (the common ones):

- a JSON array of records (one page);
- an object with the records under ``records``, ``data``, ``items`` or ``results`` and the next
  page as ``next`` / ``next_url`` (a URL) or ``next_cursor`` / ``cursor`` (sent back as
  ``?cursor=...``); a ``Link: <...>; rel="next"`` header also works.

Retries (urllib3's ``Retry``) back off exponentially on connection errors, 429 and 5xx, and
honour ``Retry-After``; after the last one the error names the URL and what went wrong.

Credentials: headers may name their value by reference (``env:API_TOKEN``,
``secretsmanager:<secret-id>``), resolved at the first request and never recorded; a
credential in the URL itself (``?api_key=``) is masked wherever the URL is shown or recorded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import orjson

from lakelib.errors import IngestError
from lakelib.sources._base import DEFAULT_BATCH_SIZE, RECORD_KEYS, Item, failed
from lakelib.sources._files import strip_bom
from lakelib.sources._redact import (
    install_log_redaction,
    is_reference,
    is_secret_name,
    redact_url,
    resolve_headers,
    scrub,
    url_secrets,
)

log = logging.getLogger(__name__)

NEXT_URL_KEYS = ("next", "next_url", "nextUrl")
CURSOR_KEYS = ("next_cursor", "nextCursor", "cursor")
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_PAGES = 100_000


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _link_next(header: str | None) -> str | None:
    for part in (header or "").split(","):
        if 'rel="next"' in part or "rel=next" in part:
            target = part.split(";")[0].strip()
            return target.strip("<>")
    return None


@dataclass
class HttpPage:
    """One fetched page; its records are already in memory (pages are small)."""

    origin: str
    body: bytes
    records: list[Any] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def batches(self, size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[Item]]:
        items = []
        for position, value in enumerate(self.records, 1):
            if isinstance(value, dict):
                items.append(Item(value, None, None, position))
            else:
                items.append(
                    failed(
                        "not_an_object: page element is not an object",
                        orjson.dumps(value),
                        position,
                    )
                )
        for start in range(0, len(items), size):
            yield items[start : start + size]


class HttpSource:
    """Pages of JSON records from ``url``.

    Parameters
    ----------
    url:
        the first page.
    timeout:
        seconds to connect and to read each response.
    retries:
        attempts after the first on connection errors, 429 and 5xx.
    backoff:
        urllib3 backoff factor: waits ``backoff * 2**n`` seconds (capped at ``max_backoff``).
    headers:
        extra request headers; a value ``env:NAME`` is read from the environment and
        ``secretsmanager:<secret-id>[#<json-key>]`` from AWS Secrets Manager, at the first
        request. Values are sent, never recorded or shown.

    Examples
    --------
    >>> source = HttpSource("https://api.example.com/v1/sales",
    ...                     headers={"Authorization": "env:SALES_API_TOKEN"})
    >>> source.describe()
    'https://api.example.com/v1/sales'
    """

    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise IngestError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.header_specs = {"Accept": "application/json", **(headers or {})}
        self._headers: dict[str, str] | None = None
        self._pool: Any = None

    def describe(self) -> str:
        return redact_url(self.url)

    @property
    def headers(self) -> dict[str, str]:
        """The headers sent, references resolved (on first use: no lookup before a request)."""
        if self._headers is None:
            self._headers = resolve_headers(self.header_specs)
        return self._headers

    def _scrub(self, text: str) -> str:
        """``text`` safe to show: URL credentials and resolved header values masked."""
        secrets = url_secrets(self.url)
        for name, value in (self._headers or {}).items():
            if is_reference(self.header_specs[name]) or is_secret_name(name):
                # "Bearer <token>": a server may echo the token alone.
                secrets += [value, value.rsplit(" ", 1)[-1]]
        return scrub(text, secrets)

    @property
    def pool(self) -> Any:
        if self._pool is None:
            import urllib3

            install_log_redaction()
            from urllib3.util.retry import Retry

            retry = Retry(
                total=self.retries,
                connect=self.retries,
                read=self.retries,
                status=self.retries,
                backoff_factor=self.backoff,
                backoff_max=self.max_backoff,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=frozenset({"GET"}),
                respect_retry_after_header=True,
                raise_on_status=True,
            )
            self._pool = urllib3.PoolManager(
                retries=retry, timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout)
            )
        return self._pool

    def fetch(self, url: str) -> tuple[bytes, dict[str, str]]:
        """GET one page; raise :class:`IngestError` with the reason after the last retry."""
        from urllib3.exceptions import HTTPError, MaxRetryError

        attempts = self.retries + 1
        shown = redact_url(url)
        headers = self.headers
        # ``from None``: the chained urllib3 exception holds the URL unmasked.
        try:
            response = self.pool.request("GET", url, headers=headers, preload_content=True)
        except MaxRetryError as exc:
            reason = self._scrub(str(exc.reason if exc.reason is not None else exc))
            raise IngestError(f"GET {shown} failed after {attempts} attempts: {reason}") from None
        except (HTTPError, ValueError) as exc:
            raise IngestError(f"GET {shown} failed: {self._scrub(str(exc))}") from None
        answer = {k.lower(): v for k, v in response.headers.items()}
        if response.status >= 400:
            snippet = self._scrub(response.data[:200].decode("utf-8", "replace").strip())
            raise IngestError(f"GET {shown} returned HTTP {response.status}: {snippet}")
        return bytes(response.data), answer

    def _parse(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[list[Any], str | None]:
        ctype = headers.get("content-type", "")
        try:
            payload = orjson.loads(strip_bom(body)) if body.strip() else []
        except orjson.JSONDecodeError as exc:
            kind = ctype.split(";")[0] or "a body that is not JSON"
            raise IngestError(f"GET {redact_url(url)} returned {kind}, not JSON ({exc})") from exc
        next_url = _link_next(headers.get("link"))
        if isinstance(payload, list):
            return payload, urljoin(url, next_url) if next_url else None
        if not isinstance(payload, dict):
            raise IngestError(
                f"GET {redact_url(url)} returned a JSON {type(payload).__name__}, not records"
            )
        records = next((payload[k] for k in RECORD_KEYS if isinstance(payload.get(k), list)), None)
        if records is None:
            raise IngestError(
                f"GET {redact_url(url)}: no list of records under any of {', '.join(RECORD_KEYS)}"
            )
        for key in NEXT_URL_KEYS:
            if isinstance(payload.get(key), str) and payload[key]:
                next_url = payload[key]
        for key in CURSOR_KEYS:
            if isinstance(payload.get(key), str | int) and payload[key] not in ("", None):
                next_url = with_query(self.url, cursor=str(payload[key]))
        return records, urljoin(url, next_url) if next_url else None

    def units(self) -> Iterator[HttpPage]:
        url: str | None = self.url
        seen: set[str] = set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise IngestError(f"pagination does not end: {redact_url(url)} was already fetched")
            seen.add(url)
            body, headers = self.fetch(url)
            records, next_url = self._parse(url, body, headers)
            log.debug(
                "GET %s: %d records, next %s",
                redact_url(url),
                len(records),
                redact_url(next_url or "-"),
            )
            # The page's origin is recorded (``_origin``, ingest state): never its credentials.
            yield HttpPage(redact_url(url), body, records)
            url = next_url if records else None
