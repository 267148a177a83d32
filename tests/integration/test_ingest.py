"""Ingestion end to end on the local lake, a real HTTP server, SQLite and moto server S3."""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from lakelib.aws import client
from lakelib.config import Zone
from lakelib.errors import IngestError, StorageError
from lakelib.ingest import (
    LandingOptions,
    SourceSpec,
    handler,
    ingest,
    land,
    make_webhook_server,
)
from lakelib.samples import make_sample_api, read_manifest
from lakelib.storage import LocalStore, RawKey, zone_store


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


def test_sales_files_reconcile_with_the_generator_manifest(samples: Path, lake_home: Path) -> None:
    manifest = read_manifest(samples)["sales"]
    summary = ingest("sales", str(samples / "sales"), run_date=date(2026, 1, 5))

    assert summary.read == manifest["lines"]
    assert summary.read == summary.landed + summary.quarantined
    # Every rejecting kind of dirt, and nothing else, is quarantined at the door.
    assert summary.quarantined == manifest["rejected"]
    assert summary.reasons["malformed_json"] == manifest["dirt"]["malformed_json"]
    assert summary.reasons["missing_required"] == manifest["dirt"]["null_required"]
    assert summary.reasons["bad_type"] == manifest["dirt"]["bad_date"]
    assert (
        summary.reasons["out_of_range"]
        == manifest["dirt"]["negative_amount"] + manifest["dirt"]["absurd_amount"]
    )

    landed = read_zone(Zone.RAW, "sales/")
    assert (
        len(landed) == summary.landed == manifest["valid_unique_ids"] + manifest["duplicate_lines"]
    )
    assert {r["_source"] for r in landed} == {"sales"}
    assert {r["_run_id"] for r in landed} == {summary.run_id}
    assert {r["_origin"] for r in landed} == {
        p.name for p in (samples / "sales").glob("*.jsonl") if p.stat().st_size
    }
    assert all(isinstance(r["amount"], float) for r in landed)  # "12.50" was coerced
    assert len({r["id"] for r in landed}) == manifest["valid_unique_ids"]
    for key in summary.files:
        parsed = RawKey.parse(key)
        assert parsed.source == "sales" and parsed.landed_at.date() == date(2026, 1, 5)

    quarantined = read_zone(Zone.QUARANTINE, "raw_sales/")
    assert len(quarantined) == manifest["rejected"]
    assert all(q["reason"] and q["original"] and q["_origin"] for q in quarantined)
    malformed = [q for q in quarantined if q["reason"].startswith("malformed_json")]
    source_lines = {
        line for p in (samples / "sales").glob("*.jsonl") for line in p.read_text().splitlines()
    }
    assert all(q["original"] in source_lines for q in malformed)  # the text is kept as it arrived


def test_reference_csv_lands_typed(samples: Path, lake_home: Path) -> None:
    summary = ingest("customers", str(samples / "customers" / "customers.csv"))
    rows = read_zone(Zone.RAW, "customers/")
    assert summary.quarantined == 0
    assert len(rows) == read_manifest(samples)["customers"]["rows"]
    assert set(rows[0]) >= {"customer_id", "region", "segment", "signup_date", "_origin"}
    products = ingest("products", str(samples / "products" / "products.csv"))
    assert products.landed == read_manifest(samples)["products"]["rows"]
    assert all(isinstance(r["unit_price"], float) for r in read_zone(Zone.RAW, "products/"))


def test_same_input_twice_lands_nothing_new_unless_forced(samples: Path, lake_home: Path) -> None:
    first = ingest("sales", str(samples / "sales"))
    again = ingest("sales", str(samples / "sales"))
    assert again.landed == again.read == 0 and again.files == []
    assert len(again.skipped_inputs) == first.inputs
    # A new file in the folder is the only thing landed by the next run.
    extra = samples.parent / "extra_sales"
    extra.mkdir(exist_ok=True)
    record = {"id": "N1", "date": "2026-01-09", "amount": 3, "customer_id": "C", "product_id": "P"}
    (extra / "new.jsonl").write_text(json.dumps(record) + "\n")
    assert ingest("sales", str(extra)).landed == 1
    forced = ingest("sales", str(samples / "sales"), force=True)
    assert forced.landed == first.landed
    assert len(read_zone(Zone.RAW, "sales/")) == 2 * first.landed + 1


def test_a_source_spec_and_landing_options_land_what_the_keywords_do(
    samples: Path, lake_home: Path
) -> None:
    """``land`` with the options grouped is the run ``ingest``'s keywords describe."""
    manifest = read_manifest(samples)["sales"]
    day = datetime(2026, 1, 7, 2, 0, tzinfo=UTC)
    spec = SourceSpec(str(samples / "sales"), fmt="jsonl")
    first = land("sales", spec, LandingOptions(run_date=day))
    assert (first.read, first.quarantined) == (manifest["lines"], manifest["rejected"])
    assert first.run_id.startswith("20260107T020000Z-")
    assert all("/year=2026/month=01/day=07/" in key for key in first.files)
    again = land("sales", spec, LandingOptions(run_date=day))
    assert again.read == 0 and len(again.skipped_inputs) == first.inputs
    # Forced and without the contract: everything again, only unparseable lines quarantined.
    forced = land("sales", spec, LandingOptions(run_date=day, force=True, validate=False))
    assert forced.validated is False and forced.read == first.read
    assert forced.quarantined == manifest["dirt"]["malformed_json"] < first.quarantined


def test_large_runs_split_into_numbered_files(samples: Path, lake_home: Path) -> None:
    summary = ingest(
        "sales", str(samples / "sales"), max_records_per_file=500, run_date=date(2026, 2, 1)
    )
    assert len(summary.files) == -(-summary.landed // 500)
    seqs = [RawKey.parse(k).seq for k in summary.files]
    assert seqs == list(range(len(summary.files)))
    # A second run in the same second never overwrites the first run's files.
    moment = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
    one = ingest("sales", str(samples / "sales"), run_date=moment, force=True)
    two = ingest("sales", str(samples / "sales"), run_date=moment, force=True)
    assert not set(one.files) & set(two.files)
    assert len(read_zone(Zone.RAW, "sales/year=2026/month=02/")) == 3 * summary.landed


def test_a_crashed_run_leaves_no_partial_file_and_is_redone(
    samples: Path, lake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = LocalStore.create_bytes
    calls = Counter[str]()

    def flaky(self: LocalStore, key: str, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StorageError(f"cannot write {self.path(key)}: disk full")
        real_create(self, key, data)

    monkeypatch.setattr(LocalStore, "create_bytes", flaky)
    with pytest.raises(StorageError, match="nothing from this run was kept") as failure:
        ingest("sales", str(samples / "sales"), max_records_per_file=400)
    monkeypatch.undo()
    assert str(lake_home) not in str(failure.value)
    # The part written before the failure was taken back: no file, visible or temp, is left.
    assert [p for p in (lake_home / "raw").rglob("*") if p.is_file()] == []
    # The state was not saved, so the rerun lands every record.
    rerun = ingest("sales", str(samples / "sales"))
    assert rerun.skipped_inputs == [] and rerun.read == read_manifest(samples)["sales"]["lines"]


def test_bad_source_names_never_become_paths(samples: Path, lake_home: Path) -> None:
    from lakelib.errors import InvalidNameError

    for name in ("../x", "a/b", "Sales"):
        with pytest.raises(InvalidNameError):
            ingest(name, str(samples / "sales"))
    assert not (lake_home / "x").exists()


def test_empty_file_is_an_error(tmp_path: Path, lake_home: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(IngestError, match="holds no records"):
        ingest("sales", str(tmp_path / "empty.jsonl"))


# --- SQL -----------------------------------------------------------------------------------


def make_shop(path: Path, rows: list[tuple[int, str, float, str]]) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orders"
            " (id INTEGER, date TEXT, amount REAL, updated_at TEXT)"
        )
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
    return f"sqlite:///{path}"


def test_sql_source_is_incremental_by_watermark(tmp_path: Path, lake_home: Path) -> None:
    url = make_shop(
        tmp_path / "shop.db",
        [
            (1, "2026-01-01", 10.0, "2026-01-01T10:00:00"),
            (2, "2026-01-01", 20.0, "2026-01-01T11:00:00"),
        ],
    )
    first = ingest("orders", url, table="orders", watermark="updated_at", validate=False)
    assert first.landed == 2
    assert ingest("orders", url, table="orders", watermark="updated_at", validate=False).landed == 0
    make_shop(tmp_path / "shop.db", [(3, "2026-01-02", 5.0, "2026-01-02T09:00:00")])
    third = ingest("orders", url, table="orders", watermark="updated_at", validate=False)
    assert third.landed == 1
    rows = read_zone(Zone.RAW, "orders/")
    assert sorted(r["id"] for r in rows) == [1, 2, 3]
    assert (
        rows[0]["_origin"].startswith("sqlite:///") and "SELECT * FROM orders" in rows[0]["_origin"]
    )


def test_sql_errors_are_one_line(tmp_path: Path, lake_home: Path) -> None:
    with pytest.raises(IngestError, match=r"database sqlite:///.*unable to open database file"):
        ingest("orders", f"sqlite:///{tmp_path}/no/such/dir/x.db", table="orders", validate=False)
    url = make_shop(tmp_path / "shop.db", [])
    with pytest.raises(IngestError, match="no such table"):
        ingest("orders", url, table="missing", validate=False)
    with pytest.raises(IngestError, match="invalid table"):
        ingest("orders", url, table="orders; DROP TABLE orders", validate=False)
    with pytest.raises(IngestError, match="cannot use database"):
        ingest("orders", "postgresql://user:secret@127.0.0.1:1/db", table="orders", validate=False)


# --- HTTP ----------------------------------------------------------------------------------


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


@pytest.mark.parametrize("pagination", ["cursor", "link"])
def test_http_api_pages_are_followed(
    samples: Path, lake_home: Path, serve: Any, pagination: str
) -> None:
    api = serve(make_sample_api(samples, page_size=250, pagination=pagination))
    manifest = read_manifest(samples)["sales"]
    summary = ingest("sales", f"{api.url}/sales")
    assert summary.read == manifest["lines"]
    assert summary.inputs == api.requests == -(-manifest["lines"] // 250)
    assert summary.quarantined == manifest["rejected"]
    # Pages already landed are skipped next time: the API content did not change.
    assert ingest("sales", f"{api.url}/sales").landed == 0


def test_http_retries_then_succeeds(samples: Path, lake_home: Path, serve: Any) -> None:
    from lakelib.sources import HttpSource

    api = serve(make_sample_api(samples, page_size=5000, fail_first=2))
    source = HttpSource(f"{api.url}/products", backoff=0.01)
    summary = ingest("products", source)
    assert summary.landed == read_manifest(samples)["products"]["rows"]
    assert api.requests == 3


def test_http_gives_a_clear_error_after_the_last_retry(
    samples: Path, lake_home: Path, serve: Any
) -> None:
    from lakelib.sources import HttpSource

    api = serve(make_sample_api(samples, fail_first=100))
    with pytest.raises(IngestError, match=r"failed after 3 attempts: .*503"):
        ingest("sales", HttpSource(f"{api.url}/sales", retries=2, backoff=0.01))
    assert api.requests == 3
    with pytest.raises(IngestError, match="failed after 2 attempts"):
        ingest("sales", HttpSource("http://127.0.0.1:9/sales", retries=1, backoff=0.01, timeout=2))
    with pytest.raises(IngestError, match="returned HTTP 404"):
        ingest("sales", HttpSource(f"{make_started(serve, samples).url}/nope", retries=0))


def make_started(serve: Any, samples: Path) -> Any:
    return serve(make_sample_api(samples))


def test_http_html_instead_of_json(lake_home: Path, serve: Any) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Maintenance</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = serve(ThreadingHTTPServer(("127.0.0.1", 0), Html))
    with pytest.raises(IngestError, match="returned text/html, not JSON"):
        ingest("sales", f"http://127.0.0.1:{server.server_address[1]}/x")


# --- Lambda against moto server S3 -----------------------------------------------------------


def test_lambda_handler_lands_a_scheduled_pull_in_s3(
    aws: str, samples: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = serve(make_sample_api(samples, page_size=400))
    s3 = client("s3")
    s3.create_bucket(Bucket="lake-raw")
    monkeypatch.setenv("S3_RAW_BUCKET", "lake-raw")
    monkeypatch.setenv("SOURCE_API_ENDPOINT", f"{api.url}/sales")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    event = {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-01-05T02:00:00Z",
        "detail": {},
    }
    result = handler(event, None)
    manifest = read_manifest(samples)["sales"]
    assert result["status"] == "ok"
    assert result["read"] == manifest["lines"]
    assert result["quarantined"] == manifest["rejected"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake-raw")["Contents"])
    raw_keys = [k for k in keys if not k.startswith("_")]
    assert len(raw_keys) == 1
    assert RawKey.parse(raw_keys[0]).landed_at == datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    assert any(k.startswith("_quarantine/raw_sales/") for k in keys)
    markers = [k for k in keys if k.startswith("_lakelib/runs/ingest-state/sales/landed/")]
    assert len(markers) == result["inputs"] == 4  # one per page landed
    body = s3.get_object(Bucket="lake-raw", Key=raw_keys[0])["Body"].read()
    assert len(gzip.decompress(body).splitlines()) == result["landed"]
    # The next scheduled run sees the same pages and lands nothing twice.
    assert handler({**event, "time": "2026-01-06T02:00:00Z"}, None)["landed"] == 0


def test_lambda_without_configuration_fails_loudly(aws: str) -> None:
    from lakelib.errors import ConfigError

    with pytest.raises(ConfigError, match="S3_RAW_BUCKET"):
        handler({}, None)


# --- webhook -------------------------------------------------------------------------------


def post(url: str, body: bytes, ctype: str = "application/json") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_webhook_lands_and_answers_with_counts(lake_home: Path, serve: Any) -> None:
    server = serve(make_webhook_server(port=0, max_body=10_000))
    good = {
        "id": "W1",
        "date": "2026-01-05T10:00:00Z",
        "amount": "9.99",
        "customer_id": "C1",
        "product_id": "P1",
    }
    lines = b"\n".join(
        [
            json.dumps(good).encode(),
            b"{broken",
            json.dumps({**good, "id": "W2", "amount": -1}).encode(),
        ]
    )

    status, body = post(f"{server.url}/ingest/sales", lines, "application/x-ndjson")
    assert status == 202
    assert (body["read"], body["landed"], body["quarantined"]) == (3, 1, 2)
    assert body["reasons"] == {"malformed_json": 1, "out_of_range": 1}
    assert read_zone(Zone.RAW, "sales/")[0]["amount"] == 9.99

    status, body = post(f"{server.url}/ingest/sales", lines, "application/x-ndjson")
    assert status == 200 and body["duplicate"] is True

    status, body = post(
        f"{server.url}/ingest/sales", json.dumps([good, {**good, "id": "W3"}]).encode()
    )
    assert status == 202 and body["landed"] == 2


@pytest.mark.parametrize(
    ("path", "body", "ctype", "status", "message"),
    [
        ("/ingest/nosuch", b"{}", "application/json", 404, "unknown source 'nosuch'"),
        ("/ingest/Bad..Name", b"{}", "application/json", 400, "invalid source name"),
        ("/ingest/sales", b"", "application/json", 400, "empty body"),
        ("/ingest/sales", b"{not json", "application/json", 400, "not valid JSON"),
        ("/ingest/sales", b"a,b\n1,2", "text/csv", 415, "application/json"),
        ("/ingest/sales", b"x" * 20_000, "application/json", 413, "exceeds the limit"),
        ("/elsewhere", b"{}", "application/json", 404, "/ingest/<source>"),
    ],
)
def test_webhook_rejects_bad_requests_with_a_message(
    lake_home: Path, serve: Any, path: str, body: bytes, ctype: str, status: int, message: str
) -> None:
    server = serve(make_webhook_server(port=0, max_body=10_000))
    code, answer = post(f"{server.url}{path}", body, ctype)
    assert code == status
    assert message in answer["error"]
    assert not (lake_home / "raw").exists()


def test_lambda_handles_api_gateway_webhook_events(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    s3 = client("s3")
    s3.create_bucket(Bucket="lake-raw")
    monkeypatch.setenv("S3_RAW_BUCKET", "lake-raw")
    record = {"id": "A1", "date": "2026-01-05", "amount": 5, "customer_id": "C", "product_id": "P"}
    event: dict[str, Any] = {
        "resource": "/ingest/{source}",
        "path": "/ingest/sales",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "pathParameters": {"source": "sales"},
        "requestContext": {"identity": {"sourceIp": "198.51.100.7"}},
        "body": json.dumps([record, {**record, "id": "A2", "amount": "x"}]),
        "isBase64Encoded": False,
    }
    response = handler(event, None)
    assert response["statusCode"] == 202
    answer = json.loads(response["body"])
    assert (answer["landed"], answer["quarantined"]) == (1, 1)
    unknown = handler({**event, "pathParameters": {"source": "nosuch"}}, None)
    assert unknown["statusCode"] == 404 and "unknown source" in json.loads(unknown["body"])["error"]
    encoded = base64.b64encode(b"{broken").decode()
    broken = handler({**event, "body": encoded, "isBase64Encoded": True}, None)
    assert broken["statusCode"] == 400 and "not valid JSON" in json.loads(broken["body"])["error"]


def test_a_20_mb_line_is_quarantined_whole_and_the_rest_lands(
    tmp_path: Path, lake_home: Path
) -> None:
    good = {"id": "G1", "date": "2026-01-05", "amount": 1, "customer_id": "C", "product_id": "P"}
    huge = json.dumps({**good, "id": "H1", "note": "x" * (20 * 1024 * 1024)})
    (tmp_path / "big.jsonl").write_text(json.dumps(good) + "\n" + huge + "\n")
    summary = ingest("sales", str(tmp_path / "big.jsonl"))
    assert (summary.read, summary.landed, summary.quarantined) == (2, 1, 1)
    assert summary.reasons == {"too_large": 1}
    (kept,) = read_zone(Zone.QUARANTINE, "raw_sales/")
    assert kept["original"] == huge
