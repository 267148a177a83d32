"""The local servers under load: acknowledged vs landed, resets, latency as the lake grows.

Three parts, each against real servers on 127.0.0.1 started as separate processes (the CLI
for the webhook), so client threads and server threads do not share a GIL:

A. **Two webhook processes on one lake** (``lake serve-ingest`` twice, one ``LAKE_HOME``):
   N POSTs of ~10 valid records with unique ids, at concurrency C, alternating between the
   two. Counts records acknowledged (in 202 answers) against records found in the raw zone
   (lines, distinct ids, ids missing, ids landed twice); resets; p50/p99 per POST.
B. **``/invocations`` at concurrency 64**, a new connection per request (what a burst of
   clients does): resets and p50/p99, against the same load on a trivial echo server of the
   stdlib base the servers used before (``ThreadingHTTPServer``, listen backlog 5) and of the
   current base (``lakelib._httpserver.LocalServer``): the floor of HTTP alone.
C. **Webhook latency as the lake grows**: one process, N sequential POSTs (default 5,000;
   medians per tenth printed), then batches of 50 POSTs alternating between that lake and a
   fresh one (posts 100-600) at the same time: median after post N against around post 100.

Prints numbers and ratios; not a pass/fail test. Usage::

    python bench/load.py [--posts 2000] [--concurrency 32] [--growth 5000] [--parts ABC]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RECORDS_PER_POST = 10


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def body_for(post: int) -> bytes:
    lines = []
    for k in range(RECORDS_PER_POST):
        record = {
            "id": f"L{post}-{k}",
            "date": "2026-01-05T10:00:00Z",
            "amount": f"{1 + (post + k) % 97}.25",
            "customer_id": f"C{k}",
            "product_id": f"P{post % 13}",
        }
        lines.append(json.dumps(record, separators=(",", ":")))
    return "\n".join(lines).encode()


@contextmanager
def webhook_process(home: Path) -> Iterator[int]:
    """``lake serve-ingest --port 0`` on ``home``; yields its port."""
    env = {**os.environ, "LAKE_HOME": str(home)}
    child = subprocess.Popen(
        [sys.executable, "-m", "lakelib", "serve-ingest", "--port", "0"],
        cwd=REPO,  # the repository's lake.toml declares the sources
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        found = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not found:
            raise RuntimeError(f"webhook did not start: {line}{child.stderr.read()}")
        # Keep draining its stderr so a chatty server never blocks on a full pipe.
        threading.Thread(target=child.stderr.read, daemon=True).start()
        yield int(found.group(1))
    finally:
        child.terminate()
        child.wait(20)


SERVER_SCRIPT = """
import sys
from lakelib.ml._server import make_endpoint_server
server = make_endpoint_server(sys.argv[1], port=0)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

ECHO_SCRIPT = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from lakelib._httpserver import LocalServer, Request, Response


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class EchoServer(LocalServer):
    def handle(self, request: Request) -> Response:
        return Response(200, request.body, "text/plain")


if sys.argv[1] == "stdlib":
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
else:
    server = EchoServer(("127.0.0.1", 0))
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@contextmanager
def python_server(script: str, *args: str) -> Iterator[int]:
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield int(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(20)


def run_clients(
    clients: int, total: int, send: Callable[[int, int], tuple[str, float, int]]
) -> tuple[Counter[str], list[float], int, float]:
    """``total`` calls of ``send(client, n)`` over ``clients`` threads started together.

    Returns the outcome counts, the latencies of answered calls, the sum of the third values
    (records acknowledged) and the wall time.
    """
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    acked = 0
    lock = threading.Lock()
    counter = iter(range(total))
    gate = threading.Barrier(clients + 1)

    def worker(client: int) -> None:
        nonlocal acked
        gate.wait()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            outcome, seconds, records = send(client, n)
            with lock:
                outcomes[outcome] += 1
                acked += records
                if seconds >= 0:
                    latencies.append(seconds)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return outcomes, latencies, acked, time.perf_counter() - start


def post_once(
    port: int, path: str, body: bytes, ctype: str, conn: http.client.HTTPConnection | None = None
) -> tuple[str, float, bytes]:
    """One POST; on a given keep-alive connection or a new one. (outcome, seconds, body)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": ctype})
        answer = conn.getresponse()
        data = answer.read()
        return str(answer.status), time.perf_counter() - start, data
    except ConnectionResetError:
        conn.close()
        return "reset", -1.0, b""
    except OSError as exc:
        conn.close()
        return type(exc).__name__, -1.0, b""
    finally:
        if own:
            conn.close()


def raw_ids(home: Path) -> Counter[str]:
    ids: Counter[str] = Counter()
    for path in (home / "raw").rglob("*.json.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            ids[json.loads(line)["id"]] += 1
    return ids


def part_a(posts: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        home = Path(tmp) / "lake"
        with webhook_process(home) as first, webhook_process(home) as second:
            ports = (first, second)
            local = threading.local()

            def send(client: int, n: int) -> tuple[str, float, int]:
                port = ports[client % 2]
                if getattr(local, "conn", None) is None:
                    local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                outcome, seconds, data = post_once(
                    port, "/ingest/sales", body_for(n), "application/x-ndjson", local.conn
                )
                if not outcome.isdigit():
                    local.conn = None
                acked = json.loads(data)["landed"] if outcome == "202" else 0
                return outcome, seconds, acked

            outcomes, latencies, acked, wall = run_clients(concurrency, posts, send)
        ids = raw_ids(home)
    expected = {f"L{n}-{k}" for n in range(posts) for k in range(RECORDS_PER_POST)}
    missing = len(expected - set(ids))
    twice = sum(1 for count in ids.values() if count > 1)
    print(
        f"A. two webhook processes, one lake: {posts:,} POSTs x {RECORDS_PER_POST} records, "
        f"concurrency {concurrency}, {wall:.1f} s ({posts / wall:,.0f} POSTs/s)"
    )
    print(f"   answers: {dict(sorted(outcomes.items()))}")
    print(
        f"   records acknowledged {acked:,}; raw lines {sum(ids.values()):,}, distinct ids "
        f"{len(ids):,}, sent ids missing from raw {missing:,}, ids landed more than once "
        f"{twice:,}"
    )
    print(
        f"   latency per POST: p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms"
    )


def burst_stats(
    port: int, body: bytes, concurrency: int, total: int
) -> tuple[Counter[str], list[float]]:
    def send(client: int, n: int) -> tuple[str, float, int]:
        outcome, seconds, _ = post_once(port, "/invocations", body, "text/csv")
        return outcome, seconds, 0

    outcomes, latencies, _, _ = run_clients(concurrency, total, send)
    return outcomes, latencies


def part_b(concurrency: int, total: int) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    from serve import synthetic_model

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        _, frame = synthetic_model(Path(tmp) / "model")
        row = frame.iloc[:1].to_csv(header=False, index=False).encode()
        rows = []
        with python_server(SERVER_SCRIPT, str(Path(tmp) / "model")) as port:
            burst_stats(port, row, 4, 40)  # warm-up
            rows.append(
                ("lakelib endpoint /invocations", *burst_stats(port, row, concurrency, total))
            )
        for base in ("stdlib", "lakelib"):
            with python_server(ECHO_SCRIPT, base) as port:
                burst_stats(port, row, 4, 40)
                name = f"echo on {'ThreadingHTTPServer' if base == 'stdlib' else 'LocalServer'}"
                rows.append((name, *burst_stats(port, row, concurrency, total)))
    print(f"B. {total:,} POSTs at concurrency {concurrency}, a new connection each")
    for name, outcomes, latencies in rows:
        resets = total - outcomes["200"]
        p50, p99 = (percentile(latencies, q) * 1000 for q in (50, 99))
        print(
            f"   {name}: not answered {resets:,} {dict(sorted(outcomes.items()))}; "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )


def sequential(port: int, first: int, count: int) -> list[float]:
    """``count`` POSTs one after the other on one keep-alive connection: latencies."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies = []
    for n in range(first, first + count):
        outcome, seconds, _ = post_once(
            port, "/ingest/sales", body_for(n), "application/x-ndjson", conn
        )
        if outcome != "202":
            raise RuntimeError(f"POST {n}: {outcome}")
        latencies.append(seconds)
    conn.close()
    return latencies


def part_c(posts: int, rounds: int = 10, batch: int = 50) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as tmp,
        webhook_process(Path(tmp) / "big") as big,
        webhook_process(Path(tmp) / "new") as new,
    ):
        latencies = sequential(big, 0, posts)
        sequential(new, 0, 100)
        # The landing fsyncs, so single windows move with the machine's disk and CPU load;
        # the grown lake and a fresh one are therefore compared in alternating batches of
        # the same posts, at the same time.
        grown: list[float] = []
        fresh: list[float] = []
        for r in range(rounds):
            grown += sequential(big, posts + r * batch, batch)
            fresh += sequential(new, 100 + r * batch, batch)
    step = max(100, posts // 10)
    trend = ", ".join(
        f"{statistics.median(latencies[i : i + step]) * 1000:.1f}"
        for i in range(0, posts - step + 1, step)
    )
    grown_ms = statistics.median(grown) * 1000
    fresh_ms = statistics.median(fresh) * 1000
    print(f"C. one webhook, {posts:,} sequential POSTs: median per {step:,} posts (ms): {trend}")
    print(
        f"   then alternating batches of {batch}: lake past post {posts:,} median "
        f"{grown_ms:.1f} ms (p99 {percentile(grown, 99) * 1000:.1f}), fresh lake at posts "
        f"100-{100 + rounds * batch} median {fresh_ms:.1f} ms (p99 "
        f"{percentile(fresh, 99) * 1000:.1f}): ratio {grown_ms / fresh_ms:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--invocations", type=int, default=1280)
    parser.add_argument("--growth", type=int, default=5000)
    parser.add_argument("--parts", default="ABC")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load:.1f} at start"
    )
    if "A" in args.parts:
        part_a(args.posts, args.concurrency)
    if "B" in args.parts:
        part_b(64, args.invocations)
    if "C" in args.parts:
        part_c(args.growth)


if __name__ == "__main__":
    main()
