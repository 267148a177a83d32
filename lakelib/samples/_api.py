"""Serve generated sample records as a paged JSON API, like a vendor's REST endpoint.

``GET /<source>?cursor=N`` returns ``{"records": [...], "next_cursor": "M"}`` (the last page
has no ``next_cursor``); with ``pagination="link"`` the next page is a ``next`` URL instead.
Malformed lines in the sample files are served as what they are, strings, so a client sees
non-object elements. ``fail_first`` makes the first N requests answer 503, to exercise
retries. Binds 127.0.0.1 by default.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson

from lakelib._httpserver import LocalServer, Request, Response, error_response, json_response


def _load(folder: Path) -> list[Any]:
    records: list[Any] = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as handle:
            records.extend(csv.DictReader(handle))
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                try:
                    records.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    records.append(line.decode("utf-8", "replace"))
    return records


class SampleApiServer(LocalServer):
    def __init__(
        self,
        address: tuple[str, int],
        records: Mapping[str, Sequence[Any]],
        page_size: int,
        pagination: str,
        fail_first: int,
    ) -> None:
        super().__init__(address)
        self.records = records
        self.page_size = page_size
        self.pagination = pagination
        self.fail_remaining = fail_first
        self.requests = 0
        self.lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, "GET /<source>?cursor=N")
        with self.lock:
            self.requests += 1
            failing = self.fail_remaining > 0
            self.fail_remaining -= int(failing)
        if failing:
            return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "try again")
        name = request.path.strip("/")
        if name not in self.records:
            return error_response(HTTPStatus.NOT_FOUND, f"no such resource {name!r}")
        query = parse_qs(request.query)
        try:
            start = int(query.get("cursor", ["0"])[0])
        except ValueError:
            return error_response(HTTPStatus.BAD_REQUEST, "bad cursor")
        rows = self.records[name]
        end = start + self.page_size
        page: dict[str, Any] = {"records": list(rows[start:end])}
        if end < len(rows):
            if self.pagination == "link":
                page["next"] = f"{self.url}/{name}?cursor={end}"
            else:
                page["next_cursor"] = str(end)
        return json_response(HTTPStatus.OK, page)


def make_sample_api(
    samples: Path | str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    page_size: int = 1000,
    pagination: str = "cursor",
    fail_first: int = 0,
) -> SampleApiServer:
    """A ready server for the sample sources under ``samples`` (start ``serve_forever``).

    Each ``samples/<source>/`` folder (``*.jsonl`` and ``*.csv`` files) becomes ``GET /<source>``.
    """
    if pagination not in ("cursor", "link"):
        raise ValueError(f"pagination must be 'cursor' or 'link', not {pagination!r}")
    folder = Path(samples)
    records = {p.name: _load(p) for p in sorted(folder.iterdir()) if p.is_dir()}
    return SampleApiServer((host, port), records, page_size, pagination, fail_first)
