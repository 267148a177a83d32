"""What real inputs bring: undeclared sources, byte order marks, credentials in URLs and headers.

Files on disk, a real HTTP server on 127.0.0.1, the webhook, and moto server for S3 and
Secrets Manager.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from plugins.cli import LakeCli

from lakelib._httpserver import Request, Response, error_response
from lakelib.aws import client
from lakelib.config import Zone, load_settings
from lakelib.errors import ConfigError, IngestError
from lakelib.ingest import handler, ingest, make_webhook_server
from lakelib.samples import SampleApiServer, make_sample_api, read_manifest
from lakelib.sources import HttpSource
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
    with pytest.raises(
        ConfigError, match=r"unknown source 'salse' \(did you mean 'sales'\?\): lake\.toml declares"
    ):
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


# --- credentials -----------------------------------------------------------------------------

API_KEY = "k3y-4b1e2c9d7f"
TOKEN = "Bearer t0k3n-9f8e7d6c5b"


class _GuardedApi(SampleApiServer):
    """The sample API behind a credential: ``?api_key=`` or an ``Authorization`` header."""

    def __init__(self, inner: SampleApiServer, *, api_key: str = "", token: str = "") -> None:
        super().__init__(("127.0.0.1", 0), inner.records, inner.page_size, inner.pagination, 0)
        self.api_key, self.token = api_key, token
        self.refused = 0

    def handle(self, request: Request) -> Response:
        given = parse_qs(request.query).get("api_key", [""])[0]
        if (self.api_key and given != self.api_key) or (
            self.token and request.header("authorization") != self.token
        ):
            self.refused += 1
            return error_response(HTTPStatus.UNAUTHORIZED, "missing or wrong credential")
        return super().handle(request)


def guarded(samples: Path, serve: Any, **credential: str) -> _GuardedApi:
    return serve(_GuardedApi(make_sample_api(samples, page_size=400), **credential))


def lake_text(home: Path) -> str:
    """Every byte the lake holds, decompressed, as text."""
    parts = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        parts.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return b"\n".join(parts).decode("utf-8", "replace")


def test_an_api_key_in_the_url_is_never_recorded_or_shown(
    samples: Path, lake_home: Path, serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api = guarded(samples, serve, api_key=API_KEY)
    url = f"{api.url}/sales?api_key={API_KEY}"
    # The CLI quiets urllib3 (an earlier in-process CLI test leaves it at ERROR): open it here.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="urllib3"):
        summary = ingest("sales", url)
    assert summary.read == read_manifest(samples)["sales"]["lines"] and api.refused == 0
    assert summary.origin == f"{api.url}/sales?api_key=***"
    origins = {r["_origin"] for r in read_zone(Zone.RAW, "sales/")}
    assert f"{api.url}/sales?api_key=***" in origins
    assert f"{api.url}/sales?api_key=***&cursor=400" in origins
    text = lake_text(lake_home)
    assert "api_key=***" in text and API_KEY not in text
    assert "api_key=" in caplog.text and API_KEY not in caplog.text  # urllib3's DEBUG lines too

    # Failures name the URL without its key: the server refusing, and no server at all.
    with pytest.raises(IngestError) as refused:
        ingest("sales", f"{api.url}/sales?api_key=wrong-{API_KEY}", force=True)
    assert "HTTP 401" in str(refused.value) and API_KEY not in str(refused.value)
    with pytest.raises(IngestError) as unreachable:
        ingest("sales", HttpSource(f"http://127.0.0.1:9/x?token={API_KEY}", retries=0))
    assert "token=***" in str(unreachable.value) and API_KEY not in str(unreachable.value)


def test_a_header_from_the_environment_on_the_command_line(
    lake: LakeCli, samples: Path, tmp_path: Path, serve: Any
) -> None:
    api = guarded(samples, serve, token=TOKEN)
    home = tmp_path / "lake"
    args = ["ingest", "sales", "--from", f"{api.url}/sales"]
    reference = ["--header", "Authorization: env:SALES_API_TOKEN"]

    unset = lake(*args, *reference, home=home)
    assert unset.returncode == 1
    assert unset.stderr.strip().splitlines() == [
        "lake: error: header Authorization: environment variable SALES_API_TOKEN is not set"
    ]
    assert api.requests == 0

    landed = lake(*args, *reference, home=home, env={"SALES_API_TOKEN": TOKEN})
    assert landed.returncode == 0, landed.stderr
    assert f"{read_manifest(samples)['sales']['lines']:,}" in landed.stdout
    assert api.refused == 0
    assert TOKEN.split()[1] not in landed.stdout + landed.stderr + lake_text(home)

    without = lake(*args, "--force", home=home)
    assert without.returncode == 1 and "returned HTTP 401" in without.stderr
    bad = lake(*args, "--header", "Authorization env:X", home=home)
    assert bad.returncode == 2 and "'Name: value'" in bad.stderr


def test_headers_declared_in_lake_toml(
    samples: Path, tmp_path: Path, lake_home: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = guarded(samples, serve, token=TOKEN)
    project = tmp_path / "project"
    project.mkdir()
    toml = '[sources.sales]\nheaders = { Authorization = "env:SALES_API_TOKEN" }\n'
    (project / "lake.toml").write_text(toml)
    monkeypatch.setenv("SALES_API_TOKEN", TOKEN)
    summary = ingest("sales", f"{api.url}/sales", settings=load_settings(cwd=project))
    manifest = read_manifest(samples)["sales"]
    # This lake.toml declares no fields: only lines that are not JSON objects are refused.
    assert summary.landed == manifest["lines"] - manifest["dirt"]["malformed_json"]
    assert api.refused == 0

    (project / "lake.toml").write_text(toml.replace("env:SALES_API_TOKEN", TOKEN))
    with pytest.raises(ConfigError, match=r"headers\.Authorization: a credential written in"):
        ingest("sales", f"{api.url}/sales", settings=load_settings(cwd=project))
    assert TOKEN not in lake_text(lake_home)


def test_a_header_from_secrets_manager(
    aws: str, samples: Path, lake_home: Path, serve: Any
) -> None:
    api = guarded(samples, serve, token=TOKEN)
    secrets = client("secretsmanager")
    secrets.create_secret(Name="lake/sales-api", SecretString=json.dumps({"authorization": TOKEN}))
    reference = {"Authorization": "secretsmanager:lake/sales-api#authorization"}
    summary = ingest("sales", f"{api.url}/sales", headers=reference)
    assert summary.read == read_manifest(samples)["sales"]["lines"] and api.refused == 0
    assert TOKEN.split()[1] not in lake_text(lake_home)

    with pytest.raises(IngestError) as missing:
        ingest("sales", f"{api.url}/sales", headers={"Authorization": "secretsmanager:nope"})
    assert str(missing.value) == (
        "header Authorization: cannot read secret nope (ResourceNotFoundException)"
    )


def test_the_lambda_keeps_an_endpoint_key_out_of_s3_and_its_logs(
    aws: str,
    samples: Path,
    serve: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = guarded(samples, serve, api_key=API_KEY)
    s3 = client("s3")
    s3.create_bucket(Bucket="lake-raw")
    monkeypatch.setenv("S3_RAW_BUCKET", "lake-raw")
    monkeypatch.setenv("SOURCE_API_ENDPOINT", f"{api.url}/sales?api_key={API_KEY}")
    with caplog.at_level(logging.INFO):
        result = handler({"detail-type": "Scheduled Event", "detail": {}}, None)
    assert result["landed"] > 0 and api.refused == 0
    assert "api_key=***" in caplog.text and API_KEY not in caplog.text
    assert API_KEY not in json.dumps(result)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake-raw")["Contents"]]
    for key in keys:
        data = s3.get_object(Bucket="lake-raw", Key=key)["Body"].read()
        text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        assert API_KEY.encode() not in text, key
