"""The local servers under hostile input and load: framing, size, timeouts, connection cap.

Real HTTP on 127.0.0.1, raw sockets where a well-behaved client cannot send what is tested.
Both servers that take bodies are covered: the ingestion webhook and the model endpoint.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ml_support import csv_row, generated_sales_clean, write_trained_model

from lakelib._httpserver import ServerLimits
from lakelib.ingest import make_webhook_server
from lakelib.ml import make_endpoint_server

RECORD = {
    "id": "S1",
    "date": "2026-01-05T10:00:00Z",
    "amount": "9.99",
    "customer_id": "C1",
    "product_id": "P1",
}
# An absolute path of two or more parts, the way it would show in a message.
ABSOLUTE_PATH = re.compile(r"(?:^|[\s'\"(=])/[\w.-]+/[\w.-]+")


def ndjson(count: int, prefix: str = "S") -> bytes:
    return b"\n".join(json.dumps({**RECORD, "id": f"{prefix}{i}"}).encode() for i in range(count))


def running(server: Any) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def webhook(lake_home: Path) -> Iterator[Any]:
    yield from running(make_webhook_server(port=0, limits=ServerLimits(timeout=1)))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("limits")
    frame = generated_sales_clean(root / "samples", days=55, rows_per_day=40)
    write_trained_model(frame, root / "model")
    return root / "model"


@pytest.fixture
def endpoint(model_dir: Path) -> Iterator[Any]:
    server = make_endpoint_server(model_dir, port=0, limits=ServerLimits(timeout=1))
    yield from running(server)


@pytest.fixture(scope="module")
def row(model_dir: Path) -> bytes:
    features = json.loads((model_dir / "metadata.json").read_text())["features"]
    return csv_row(features).encode()


def landed_files(lake_home: Path) -> list[Path]:
    return sorted((lake_home / "raw").rglob("*.json.gz")) if (lake_home / "raw").exists() else []


def exchange(port: int, head: bytes, body: bytes = b"", timeout: float = 10) -> tuple[int, bytes]:
    """Send a hand-made request on a raw socket; the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + b"\r\n" + body)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, answer.read()


def request_head(path: str, *lines: str) -> bytes:
    text = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{x}\r\n" for x in lines)
    return text.encode()


BAD_LENGTHS = {
    "negative": ["Content-Length: -1"],
    "plus sign": ["Content-Length: +15"],
    "underscore": ["Content-Length: 1_5"],
    "two headers": ["Content-Length: 15", "Content-Length: 15"],
}


@pytest.mark.parametrize("lines", BAD_LENGTHS.values(), ids=BAD_LENGTHS.keys())
def test_malformed_content_length_is_400_and_nothing_lands(
    webhook: Any, endpoint: Any, lake_home: Path, row: bytes, lines: list[str]
) -> None:
    body = ndjson(3)[:15] if "-1" not in lines[0] else ndjson(2000)
    head = request_head("/ingest/sales", "Content-Type: application/x-ndjson", *lines)
    status, answer = exchange(webhook.server_address[1], head, body)
    assert status == 400, answer
    assert "Content-Length" in json.loads(answer)["error"]
    assert landed_files(lake_home) == []

    port = endpoint.server_address[1]
    head = request_head("/invocations", "Content-Type: text/csv", *lines)
    status, answer = exchange(port, head, row)
    assert status == 400 and "Content-Length" in json.loads(answer)["error"]
    # On the SageMaker route the refusal has the shape botocore parses.
    head = request_head("/endpoints/churn-model/invocations", "Content-Type: text/csv", *lines)
    status, answer = exchange(port, head, row)
    assert status == 400 and json.loads(answer)["__type"] == "ValidationError"
    assert endpoint.requests == 0  # never reached the model


def test_nine_megabyte_body_is_413_however_it_is_framed(webhook: Any, lake_home: Path) -> None:
    body = ndjson(110_000)
    assert len(body) > 9_000_000
    host, port = webhook.server_address
    conn = http.client.HTTPConnection(host, port, timeout=20)
    conn.request("POST", "/ingest/sales", body=body, headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    assert answer.status == 413
    assert "exceeds the limit of 6,291,456 bytes" in json.loads(answer.read())["error"]
    conn.close()
    # Chunked: no length up front, the limit counts the bytes as they arrive.
    conn = http.client.HTTPConnection(host, port, timeout=20)
    pieces = (body[i : i + 65_536] for i in range(0, len(body), 65_536))
    conn.request("POST", "/ingest/sales", body=pieces, encode_chunked=True)
    answer = conn.getresponse()
    assert answer.status == 413 and "exceeds the limit" in json.loads(answer.read())["error"]
    conn.close()
    # And a declared length of -1 (which used to mean "read to the end").
    head = request_head("/ingest/sales", "Content-Length: -1", "Connection: close")
    status, _ = exchange(port, head, body[:1_000_000])
    assert status == 400
    assert landed_files(lake_home) == []
    # A body within the limit still lands, chunked too.
    conn = http.client.HTTPConnection(host, port, timeout=20)
    conn.request("POST", "/ingest/sales", body=iter([ndjson(5)]), encode_chunked=True)
    answer = conn.getresponse()
    assert answer.status == 202 and json.loads(answer.read())["landed"] == 5


def test_half_sent_body_is_dropped_and_others_are_served(webhook: Any, lake_home: Path) -> None:
    port = webhook.server_address[1]
    stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
    stalled.sendall(request_head("/ingest/sales", "Content-Length: 1000") + b"\r\n" + b'{"id":')
    # Another client is answered while the first one stalls.
    started = time.monotonic()
    status, answer = exchange(
        port, request_head("/ingest/sales", f"Content-Length: {len(ndjson(2))}"), ndjson(2)
    )
    assert status == 202 and json.loads(answer)["landed"] == 2
    assert time.monotonic() - started < 2
    # The stalled connection is closed after the 1 s timeout (checked once a second).
    assert stalled.recv(1024) == b""
    assert time.monotonic() - started < 5
    stalled.close()
    assert len(landed_files(lake_home)) == 1  # only the complete request landed


def test_idle_connections_neither_lock_out_clients_nor_stay_open(webhook: Any) -> None:
    port = webhook.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(300)]
    try:
        started = time.monotonic()
        status, _ = exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        assert status == 200 and time.monotonic() - started < 1
        # Each idle connection is closed by the server after the timeout.
        for sock in idle:
            assert sock.recv(1) == b""
        assert time.monotonic() - started < 6
    finally:
        for sock in idle:
            sock.close()


SERVER_WITH_64_FILES = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from lakelib._httpserver import ServerLimits
from lakelib.ingest import make_webhook_server
server = make_webhook_server(port=0, limits=ServerLimits(timeout=1))
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def test_idle_clients_cannot_exhaust_the_file_descriptors(lake_home: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SERVER_WITH_64_FILES)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(70)]
        started = time.monotonic()
        # Past the cap new clients wait in the listen backlog until idle ones time out.
        status, _ = exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        assert status == 200 and time.monotonic() - started < 5
        for sock in idle:
            sock.close()
        assert child.poll() is None
    finally:
        child.kill()
        child.wait(10)


def burst(
    port: int, path: str, body: Callable[[int], bytes], ctype: str, clients: int = 200
) -> Counter[str]:
    """``clients`` POSTs at once (``body(i)`` each), each on its own connection: outcomes."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    gate = threading.Barrier(clients)

    def one(i: int) -> None:
        gate.wait()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("POST", path, body=body(i), headers={"Content-Type": ctype})
            response = conn.getresponse()
            response.read()
            outcome = str(response.status)
        except ConnectionResetError:
            outcome = "reset"
        except OSError as exc:
            outcome = type(exc).__name__
        finally:
            conn.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return outcomes


def test_200_parallel_requests_without_a_reset(
    webhook: Any, endpoint: Any, lake_home: Path, row: bytes
) -> None:
    outcomes = burst(endpoint.server_address[1], "/invocations", lambda i: row, "text/csv")
    assert outcomes == Counter({"200": 200})

    port = webhook.server_address[1]
    outcomes = burst(port, "/ingest/sales", lambda i: ndjson(3, f"P{i}-"), "application/x-ndjson")
    assert outcomes == Counter({"202": 200})
    ids = set()
    for path in landed_files(lake_home):
        ids.update(
            json.loads(line)["id"] for line in gzip.decompress(path.read_bytes()).splitlines()
        )
    assert len(ids) == 600


def test_error_bodies_carry_no_server_paths(
    model_dir: Path, tmp_path: Path, lake_home: Path
) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    for path in model_dir.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "model.joblib").write_bytes(b"tampered")
    for folder, reason in ((broken, "checksum mismatch"), (tmp_path / "gone", "not a model")):
        for server in running(make_endpoint_server(folder, port=0)):
            port = server.server_address[1]
            for head in (b"GET /ping HTTP/1.1\r\nHost: x\r\n", request_head("/invocations")):
                status, answer = exchange(port, head + b"Content-Length: 1\r\n", b"1")
                message = json.loads(answer)["error"]
                assert status == 503 and reason in message
                assert str(tmp_path) not in message and not ABSOLUTE_PATH.search(message)

    # A landing that fails on the server's disk: 500 with a message, no paths.
    lake_home.mkdir(parents=True, exist_ok=True)
    (lake_home / "raw").write_text("a file where the raw zone's folder should be")
    for server in running(make_webhook_server(port=0)):
        body = ndjson(2)
        head = request_head("/ingest/sales", f"Content-Length: {len(body)}")
        status, answer = exchange(server.server_address[1], head, body)
        assert status == 500, answer
        message = json.loads(answer)["error"]
        assert message and str(lake_home) not in message
        assert not ABSOLUTE_PATH.search(message), message
