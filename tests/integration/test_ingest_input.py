"""What real inputs bring: undeclared sources, byte order marks, credentials in URLs and headers.

Files on disk, a real HTTP server on 127.0.0.1, the webhook, and moto server for S3 and
Secrets Manager.
"""

from __future__ import annotations

import gzip
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lakelib.aws import client
from lakelib.config import Zone
from lakelib.errors import ConfigError
from lakelib.ingest import handler, ingest, make_webhook_server
from lakelib.samples import make_sample_api
from lakelib.storage import zone_store


def read_zone(zone: Zone, prefix: str = "") -> list[dict[str, Any]]:
    store = zone_store(zone)
    rows = []
    for info in store.list(prefix):
        if info.key.endswith(".json.gz"):
            rows.extend(
                json.loads(line)
                for line in gzip.decompress(store.read_bytes(info.key)).splitlines()
            )
    return rows


@pytest.fixture
def serve() -> Iterator[Any]:
    servers = []

    def start(server: Any) -> Any:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- undeclared sources ----------------------------------------------------------------------


def test_lambda_refuses_an_undeclared_source_and_lands_nothing(
    aws: str, samples: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = serve(make_sample_api(samples, page_size=400))
    s3 = client("s3")
    s3.create_bucket(Bucket="lake-raw")
    monkeypatch.setenv("S3_RAW_BUCKET", "lake-raw")
    monkeypatch.setenv("SOURCE_API_ENDPOINT", f"{api.url}/sales")
    monkeypatch.setenv("SOURCE_NAME", "salse")
    with pytest.raises(ConfigError, match=r"unknown source 'salse': lake\.toml declares"):
        handler({"detail-type": "Scheduled Event", "detail": {}}, None)
    assert s3.list_objects_v2(Bucket="lake-raw").get("KeyCount") == 0
    assert api.requests == 0


# --- byte order marks ------------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"
SALE = {"id": "B1", "date": "2026-01-05", "amount": 5, "customer_id": "C1", "product_id": "P1"}


def test_a_csv_utf8_export_keeps_its_header(tmp_path: Path, lake_home: Path) -> None:
    # What "Save as CSV UTF-8" in a spreadsheet writes: a BOM, then CRLF-ended rows.
    rows = ["customer_id,region,segment,signup_date", "C1,north,consumer,2024-12-05"]
    rows.append("C2,south,small_business,2025-01-31")
    path = tmp_path / "customers.csv"
    path.write_bytes(BOM + "\r\n".join(rows).encode() + b"\r\n")
    summary = ingest("customers", str(path))
    assert (summary.read, summary.landed, summary.quarantined) == (2, 2, 0)
    landed = read_zone(Zone.RAW, "customers/")
    assert [(r["customer_id"], r["region"]) for r in landed] == [("C1", "north"), ("C2", "south")]


def test_json_lines_gzip_with_a_bom_land_every_record(tmp_path: Path, lake_home: Path) -> None:
    lines = [json.dumps({**SALE, "id": f"B{i}"}) for i in range(3)]
    (tmp_path / "sales.jsonl.gz").write_bytes(gzip.compress(BOM + "\n".join(lines).encode()))
    summary = ingest("sales", str(tmp_path / "sales.jsonl.gz"))
    assert (summary.landed, summary.quarantined) == (3, 0)


class _BomApi(ThreadingHTTPServer):
    """Answers every GET with one JSON page starting with a BOM, gzip-encoded on /gz."""

    def __init__(self) -> None:
        page = BOM + json.dumps({"data": [SALE, {**SALE, "id": "B2"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = gzip.compress(page) if self.path.startswith("/gz") else page
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                if self.path.startswith("/gz"):
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.mark.parametrize("path", ["/plain", "/gz"])
def test_an_http_page_with_a_bom(lake_home: Path, serve: Any, path: str) -> None:
    api = serve(_BomApi())
    summary = ingest("sales", f"{api.url}{path}")
    assert (summary.read, summary.landed, summary.quarantined) == (2, 2, 0)


def test_a_webhook_body_with_a_bom(lake_home: Path, serve: Any) -> None:
    server = serve(make_webhook_server(port=0))
    body = BOM + b"\n".join(json.dumps({**SALE, "id": f"W{i}"}).encode() for i in range(2))
    request = urllib.request.Request(
        f"{server.url}/ingest/sales",
        data=body,
        headers={"Content-Type": "application/x-ndjson"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert response.status == 202
    assert (answer["landed"], answer["quarantined"]) == (2, 0)
