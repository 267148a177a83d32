"""Nothing acknowledged is ever lost: concurrent writers on one lake, failed writes, versions.

Real processes and real HTTP on 127.0.0.1: two ``lake serve-ingest`` processes on one
``LAKE_HOME``, several ``lake ingest`` processes at once, the Lambda handler from threads
against moto server S3, and a webhook process whose files may not grow past a few KiB (the
kernel's ``RLIMIT_FSIZE``: a real failing write, like a full disk).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lakelib.errors import AlreadyExistsError
from lakelib.ingest import handler, ingest
from lakelib.storage import LocalStore, S3Store

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


# --- helpers --------------------------------------------------------------------------------


def sale_lines(tag: str, count: int = 10) -> bytes:
    """``count`` valid sales as JSON lines, ids ``<tag>-0`` ... (unique per tag)."""
    records = [
        {
            "id": f"{tag}-{n}",
            "date": "2026-01-05T10:00:00Z",
            "amount": 1 + n,
            "customer_id": "C1",
            "product_id": "P1",
        }
        for n in range(count)
    ]
    return b"\n".join(json.dumps(r).encode() for r in records) + b"\n"


def raw_ids(lake_home: Path, source: str = "sales") -> Counter[str]:
    """How many times each id is in the raw zone (every gzip file, every line)."""
    ids: Counter[str] = Counter()
    for path in (lake_home / "raw" / source).rglob("*.json.gz"):
        ids.update(json.loads(line)["id"] for line in gzip.decompress(path.read_bytes()).split())
    return ids


def post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/x-ndjson"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text.strip().startswith(b"{") else {"raw": text}


@contextmanager
def serve_ingest(preexec: Callable[[], None] | None = None) -> Iterator[str]:
    """A ``lake serve-ingest --port 0`` process on this test's ``LAKE_HOME``; its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakelib", "serve-ingest", "--port", "0"],
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    assert proc.stderr is not None
    seen = ""
    try:
        while (match := re.search(r"http://127\.0\.0\.1:(\d+)", seen)) is None:
            line = proc.stderr.readline()
            if not line:
                raise AssertionError(f"serve-ingest did not start: {seen}")
            seen += line
        # Keep reading its log so a full pipe never blocks the server.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield f"http://127.0.0.1:{match[1]}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the store's exclusive create -----------------------------------------------------------


def test_local_create_bytes_has_exactly_one_winner(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    results: list[str] = []

    def create(n: int) -> None:
        try:
            store.create_bytes("a/b/key.json", f"writer {n}".encode())
            results.append(f"won {n}")
        except AlreadyExistsError:
            results.append("lost")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, range(64)))
    winners = [r for r in results if r.startswith("won")]
    assert len(winners) == 1 and results.count("lost") == 63
    assert store.read_bytes("a/b/key.json") == f"writer {winners[0].split()[1]}".encode()
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["key.json"]  # no temp left


def test_s3_create_bytes_refuses_an_existing_key(aws: str) -> None:
    from lakelib.aws import client

    client("s3").create_bucket(Bucket="lake-raw")
    store = S3Store("s3://lake-raw/zone")
    store.create_bytes("k.json", b"first")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        store.create_bytes("k.json", b"second")
    assert store.read_bytes("k.json") == b"first"


class RetriedPutStore(LocalStore):
    """S3 as a client sees it when a PUT's answer is lost and botocore retries it: the first
    attempt created the object, the retry is refused with 412 (AlreadyExistsError)."""

    def create_bytes(self, key: str, data: bytes) -> None:
        super().create_bytes(key, data)
        raise AlreadyExistsError(f"{key} already exists")


def test_a_retried_conditional_put_is_recognised_as_our_own_write(tmp_path: Path) -> None:
    from lakelib.ingest._landing import GzipLinesWriter
    from lakelib.ingest._state import IngestState

    store = RetriedPutStore(tmp_path)
    state = IngestState(store, "sales")
    digest = "ab" * 32
    assert state.mark_landed(digest, {"run_id": "mine"}) is True  # ours, not a rival's
    assert state.mark_landed(digest, {"run_id": "another"}) is False
    writer = GzipLinesWriter(store, "sales", datetime(2026, 1, 5, 2, 0), tag="0000abcd")
    writer.add(b'{"id": 1}')
    assert writer.close() == [
        "sales/year=2026/month=01/day=05/sales_20260105_020000_000000_0000abcd.json.gz"
    ]
    assert len(list((tmp_path / "sales").rglob("*.json.gz"))) == 1


# --- two webhook processes on one lake ------------------------------------------------------


def test_two_webhook_processes_land_every_acknowledged_record_exactly_once(
    lake_home: Path,
) -> None:
    bodies = [sale_lines(f"W{i:03d}") for i in range(400)]
    with ExitStack() as stack, ThreadPoolExecutor(16) as pool:
        urls = [stack.enter_context(serve_ingest()) for _ in range(2)]

        def send(i: int, shift: int = 0) -> tuple[int, dict[str, Any]]:
            return post(f"{urls[(i + shift) % 2]}/ingest/sales", bodies[i])

        first = list(pool.map(send, range(400)))
        assert Counter(status for status, _ in first) == {202: 400}
        acknowledged = {f"W{i:03d}-{n}" for i in range(400) for n in range(10)}
        landed = raw_ids(lake_home)
        assert sum(landed.values()) == 4000
        assert set(landed) == acknowledged and set(landed.values()) == {1}

        # The same bodies again, each to the other process: all recognised, nothing landed.
        files = sorted((lake_home / "raw").rglob("*.json.gz"))
        again = list(pool.map(lambda i: send(i, 1), range(400)))
        assert Counter(status for status, _ in again) == {200: 400}
        assert all(answer["duplicate"] is True for _, answer in again)
        assert sorted((lake_home / "raw").rglob("*.json.gz")) == files

        # New bodies sent to both processes at the same time: one lands, one is a duplicate.
        twins = [sale_lines(f"T{i:03d}") for i in range(30)]
        futures = [
            (i, pool.submit(post, f"{url}/ingest/sales", twins[i]))
            for i in range(30)
            for url in urls
        ]
        statuses: dict[int, list[int]] = {}
        for i, future in futures:
            statuses.setdefault(i, []).append(future.result()[0])
    assert all(sorted(pair) == [200, 202] for pair in statuses.values()), statuses
    landed = raw_ids(lake_home)
    assert sum(landed.values()) == 4300 and set(landed.values()) == {1}


def test_concurrent_cli_ingests_on_one_lake_lose_nothing(tmp_path: Path, lake_home: Path) -> None:
    inputs = []
    for n in range(4):
        path = tmp_path / f"part{n}.jsonl"
        path.write_bytes(sale_lines(f"F{n}", 300))
        inputs.append(path)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lakelib",
                "ingest",
                "sales",
                "--from",
                str(path),
                "--date=2026-01-07",
            ],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for path in inputs
    ]
    errors = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, errors
    landed = raw_ids(lake_home)
    assert sum(landed.values()) == 1200 and set(landed.values()) == {1}
    assert len(list((lake_home / "raw" / "sales").rglob("*.json.gz"))) == 4


# --- the Lambda on S3, invoked concurrently -------------------------------------------------


def test_concurrent_lambda_webhook_invocations_lose_nothing(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelib.aws import client

    s3 = client("s3")
    s3.create_bucket(Bucket="lake-raw")
    monkeypatch.setenv("S3_RAW_BUCKET", "lake-raw")

    def invoke(i: int) -> tuple[int, dict[str, Any]]:
        event = {
            "httpMethod": "POST",
            "path": "/ingest/sales",
            "headers": {"Content-Type": "application/x-ndjson"},
            "pathParameters": {"source": "sales"},
            "requestContext": {"identity": {"sourceIp": "198.51.100.7"}},
            "body": sale_lines(f"L{i:02d}").decode(),
            "isBase64Encoded": False,
        }
        response = handler(event, None)
        return response["statusCode"], json.loads(response["body"])

    def raw_objects() -> dict[str, bytes]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="lake-raw", Prefix="sales/")
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return {k: s3.get_object(Bucket="lake-raw", Key=k)["Body"].read() for k in keys}

    with ThreadPoolExecutor(12) as pool:
        first = list(pool.map(invoke, range(60)))
        assert Counter(status for status, _ in first) == {202: 60}
        objects = raw_objects()
        landed = Counter(
            json.loads(line)["id"]
            for body in objects.values()
            for line in gzip.decompress(body).split()
        )
        assert sum(landed.values()) == 600 and set(landed.values()) == {1}
        # Invoked again with the same bodies (a client's retries): all duplicates.
        again = list(pool.map(invoke, range(60)))
    assert Counter(status for status, _ in again) == {200: 60}
    assert set(raw_objects()) == set(objects)


# --- version order: arrival, then position --------------------------------------------------


def test_position_and_microsecond_arrival_order_versions(tmp_path: Path, lake_home: Path) -> None:
    first_version = {
        "id": "X",
        "date": "2026-01-05",
        "amount": 40,
        "customer_id": "C",
        "product_id": "P",
    }
    other = {**first_version, "id": "Y", "amount": 7}
    correction = {**first_version, "amount": 50}
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (first_version, other, correction)) + "\n")
    ingest("sales", str(path))
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps({**first_version, "amount": 60}) + "\n")
    ingest("sales", str(later))

    rows = [
        json.loads(line)
        for p in sorted((lake_home / "raw" / "sales").rglob("*.json.gz"))
        for line in gzip.decompress(p.read_bytes()).split()
    ]
    stamps = sorted({r["_ingested_at"] for r in rows})
    assert len(stamps) == 2 and all(re.fullmatch(r".+T.+\.\d{6}Z", s) for s in stamps)
    first_run = [r for r in rows if r["_ingested_at"] == stamps[0]]
    assert [
        (r["id"], r["amount"], r["_position"])
        for r in sorted(first_run, key=lambda r: r["_position"])
    ] == [
        ("X", 40.0, 0),
        ("Y", 7.0, 1),
        ("X", 50.0, 2),
    ]
    # Newest version = greatest (_ingested_at, _position): the correction, then the later run.
    versions = sorted(
        (r for r in rows if r["id"] == "X"),
        key=lambda r: (datetime.fromisoformat(r["_ingested_at"]), r["_position"]),
    )
    assert [r["amount"] for r in versions] == [40.0, 50.0, 60.0]
    assert sorted(versions, key=lambda r: (r["_ingested_at"], r["_position"])) == versions


# --- a write that fails (the disk is full) --------------------------------------------------


def _small_files_only() -> None:
    # The kernel refuses to grow any file of this process past 8 KiB (Python ignores SIGXFSZ,
    # so the write fails with EFBIG): the webhook's small files land, big ones fail mid-run.
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_failed_write_lands_nothing_and_names_no_server_path(lake_home: Path) -> None:
    good = sale_lines("D", 10)
    # Rejected records keep their original text in quarantine: random text does not
    # compress, so the quarantine file outgrows the limit after the raw file was written.
    noise = b"\n".join(
        b'{"id": "bad-%d", "junk": "%s"}' % (n, os.urandom(300).hex().encode()) for n in range(40)
    )
    body = good + noise + b"\n"
    with serve_ingest(_small_files_only) as limited, serve_ingest() as healthy:
        status, answer = post(f"{limited}/ingest/sales", body)
        assert status == 500
        assert str(lake_home) not in json.dumps(answer) and "/raw/" not in json.dumps(answer)
        assert raw_ids(lake_home) == Counter()  # the 500 means nothing landed
        assert not list((lake_home / "quarantine").rglob("*.json.gz"))
        # The client retries elsewhere: every record lands once, none twice.
        status, answer = post(f"{healthy}/ingest/sales", body)
        assert status == 202 and (answer["landed"], answer["quarantined"]) == (10, 40)
    assert raw_ids(lake_home) == Counter({f"D-{n}": 1 for n in range(10)})


def test_a_refused_s3_write_lands_nothing_and_names_no_bucket(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelib.aws import client

    s3 = client("s3")
    s3.create_bucket(Bucket="lake-raw")
    monkeypatch.setenv("S3_RAW_BUCKET", "lake-raw")
    # The raw file lands, then S3 refuses the quarantine file (403, as a bucket policy or a
    # KMS key outage would): the run must take its raw file back.
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::lake-raw/_quarantine/*",
    }
    s3.put_bucket_policy(
        Bucket="lake-raw", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    )
    event = {
        "httpMethod": "POST",
        "path": "/ingest/sales",
        "headers": {"Content-Type": "application/x-ndjson"},
        "pathParameters": {"source": "sales"},
        "body": (sale_lines("S", 10) + b'{"id": "bad"}\n').decode(),
    }
    failed = handler(event, None)
    assert failed["statusCode"] == 500
    assert "lake-raw" not in failed["body"] and "s3://" not in failed["body"]
    assert s3.list_objects_v2(Bucket="lake-raw", Prefix="sales/").get("KeyCount") == 0
    s3.delete_bucket_policy(Bucket="lake-raw")
    retried = handler(event, None)
    assert retried["statusCode"] == 202
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake-raw", Prefix="sales/")["Contents"]]
    assert len(keys) == 1
    body = s3.get_object(Bucket="lake-raw", Key=keys[0])["Body"].read()
    assert sorted(json.loads(line)["id"] for line in gzip.decompress(body).split()) == sorted(
        f"S-{n}" for n in range(10)
    )


# --- a crash at the commit point ------------------------------------------------------------


def test_a_run_killed_before_its_marker_is_landed_again_never_lost(
    tmp_path: Path, lake_home: Path
) -> None:
    path = tmp_path / "k.jsonl"
    path.write_bytes(sale_lines("K", 20))
    # The process dies (SIGKILL, as from kill -9 or the OOM killer) the moment it would
    # record the input as landed: after its data, before anyone was told.
    script = f"""
import os, signal
from lakelib.storage import LocalStore
real = LocalStore.create_bytes
def dying(self, key, data):
    if key.startswith("ingest-state/"):
        os.kill(os.getpid(), signal.SIGKILL)
    real(self, key, data)
LocalStore.create_bytes = dying
from lakelib.ingest import ingest
ingest("sales", {str(path)!r})
"""
    killed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=dict(os.environ), timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    assert sum(raw_ids(lake_home).values()) == 20  # landed, but never acknowledged
    retry = ingest("sales", str(path))
    assert retry.landed == 20 and retry.skipped_inputs == []
    # Landed twice, lost never: the ETL's dedup by id absorbs the repeat.
    assert raw_ids(lake_home) == Counter({f"K-{n}": 2 for n in range(20)})
    assert ingest("sales", str(path)).skipped_inputs == ["k.jsonl"]


# --- a lake landed before per-input markers -------------------------------------------------


def test_a_legacy_state_document_is_still_honoured(tmp_path: Path, lake_home: Path) -> None:
    import hashlib

    path = tmp_path / "old.jsonl"
    path.write_bytes(sale_lines("O", 5))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    legacy = lake_home / "runs" / "ingest" / "sales" / "state.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"source": "sales", "landed": {digest: {"origin": "old.jsonl"}}}))

    summary = ingest("sales", str(path))
    assert summary.landed == 0 and summary.skipped_inputs == ["old.jsonl"]
    assert not legacy.exists() and legacy.with_name("state.migrated.json").exists()
    assert ingest("sales", str(path)).skipped_inputs == ["old.jsonl"]  # now from its marker


# --- cost per request (item 9) ----------------------------------------------------------------


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (hidden temp files too): size and modification time."""
    return {
        path.relative_to(root).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def test_a_webhook_post_writes_the_same_few_files_however_much_has_landed(
    lake_home: Path,
) -> None:
    """A POST's writes do not grow with the lake: it never rewrites a shared state file or
    anything else already there, and adds as many files as the first POST did."""
    from lakelib.ingest import make_webhook_server

    server = make_webhook_server(port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"{server.url}/ingest/sales"
    try:
        before = _tree(lake_home) if lake_home.exists() else {}
        assert post(url, sale_lines("first"))[0] == 202
        first = _tree(lake_home)
        first_new = set(first) - set(before)
        for i in range(150):
            assert post(url, sale_lines(f"grow{i}"))[0] == 202
        grown = _tree(lake_home)
        assert post(url, sale_lines("last"))[0] == 202
        after = _tree(lake_home)
    finally:
        server.shutdown()
        server.server_close()
    rewritten = sorted(key for key, stat in grown.items() if after.get(key) != stat)
    assert rewritten == []  # nothing already in the lake was touched (no state.json rewrite)
    assert len(set(after) - set(grown)) == len(first_new)
    assert raw_ids(lake_home)["last-0"] == 1
