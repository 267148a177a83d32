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
from urllib.parse import parse_qs, urlsplit

import orjson

from lakelib._httpserver import JsonHandler, LocalServer


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
        super().__init__(address, _Handler)
        self.records = records
        self.page_size = page_size
        self.pagination = pagination
        self.fail_remaining = fail_first
        self.requests = 0
        self.lock = threading.Lock()


class _Handler(JsonHandler):
    server: SampleApiServer

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests += 1
            failing = self.server.fail_remaining > 0
            self.server.fail_remaining -= int(failing)
        if failing:
            return self.send_body(503, b'{"error": "try again"}')
        parts = urlsplit(self.path)
        name = parts.path.strip("/")
        if name not in self.server.records:
            return self.send_body(404, orjson.dumps({"error": f"no such resource {name!r}"}))
        query = parse_qs(parts.query)
        try:
            start = int(query.get("cursor", ["0"])[0])
        except ValueError:
            return self.send_body(400, b'{"error": "bad cursor"}')
        rows = self.server.records[name]
        end = start + self.server.page_size
        page: dict[str, Any] = {"records": list(rows[start:end])}
        if end < len(rows):
            if self.server.pagination == "link":
                page["next"] = f"{self.server.url}/{name}?cursor={end}"
            else:
                page["next_cursor"] = str(end)
        self.send_body(HTTPStatus.OK, orjson.dumps(page))


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
