"""Local endpoint latency and throughput: HTTP serving vs calling the model in-process.

Fits the real pipeline (scaling + one-hot + HistGradientBoostingClassifier, default
hyperparameters) on synthetic features shaped like the churn model's, serves it with the
local endpoint on 127.0.0.1 and measures, in the same process:

- single-row CSV requests: p50 / p99 latency and requests/s at concurrency 1 and 16
  (keep-alive connections, one per client thread);
- 10,000-row CSV batch requests: rows/s;
- baselines: the same ``input_fn -> predict_fn -> output_fn`` chain called directly (no HTTP),
  and ``estimator.predict_proba`` on a ready DataFrame (no decoding at all).

Prints the numbers and the ratios; not a pass/fail test. Usage::

    python bench/serve.py [--requests N] [--batches N]
"""

from __future__ import annotations

import argparse
import http.client
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_model(folder: Path, rows: int = 20_000) -> tuple[list[str], pd.DataFrame]:
    from lakelib.ml._artifact import write_model_dir
    from lakelib.ml._features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
    from lakelib.ml._script import build_estimator

    rng = np.random.default_rng(0)
    shares = [f"share_{c}" for c in ("books", "garden", "grocery", "toys", "home", "apparel")]
    numeric = [*NUMERIC_FEATURES, *shares]
    frame = pd.DataFrame(rng.gamma(2.0, 5.0, size=(rows, len(numeric))), columns=numeric)
    frame["segment"] = rng.choice(["consumer", "small_business", "corporate"], rows)
    frame["region"] = rng.choice(["north", "south", "east", "west", "central"], rows)
    logit = 2.0 - 0.15 * frame["recency_days"] + 0.1 * frame["frequency_30d"]
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    features = [*numeric, *CATEGORICAL_FEATURES]
    estimator = build_estimator(numeric, list(CATEGORICAL_FEATURES))
    estimator.fit(frame[features], label)
    write_model_dir(
        folder,
        estimator,
        {
            "features": features,
            "numeric_features": numeric,
            "categorical_features": list(CATEGORICAL_FEATURES),
        },
    )
    return features, frame[features]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def client_loop(
    url: str, body: bytes, count: int, latencies: list[float], lock: threading.Lock
) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "text/csv"}
    mine = []
    for _ in range(count):
        start = time.perf_counter()
        conn.request("POST", "/invocations", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        mine.append(time.perf_counter() - start)
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}")
    conn.close()
    with lock:
        latencies.extend(mine)


def load(url: str, body: bytes, concurrency: int, total: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) for ``total`` requests over ``concurrency`` clients."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(1, total // concurrency)
    threads = [
        threading.Thread(target=client_loop, args=(url, body, per_client, latencies, lock))
        for _ in range(concurrency)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return (
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        len(latencies) / elapsed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()

    from lakelib.ml._inference import model_fn, transform
    from lakelib.ml._server import make_endpoint_server

    with tempfile.TemporaryDirectory() as tmp:
        features, frame = synthetic_model(Path(tmp) / "model")
        model = model_fn(str(Path(tmp) / "model"))
        row = frame.iloc[:1].to_csv(header=False, index=False).encode()
        batch = frame.iloc[:10_000].to_csv(header=False, index=False).encode()

        # Baselines in-process: the inference chain without HTTP, and bare predict_proba.
        for _ in range(50):
            transform(row, "text/csv", "text/csv", model)
        times = []
        for _ in range(1000):
            start = time.perf_counter()
            transform(row, "text/csv", "text/csv", model)
            times.append(time.perf_counter() - start)
        chain_p50 = statistics.median(times) * 1000
        one = frame.iloc[:1]
        times = []
        for _ in range(1000):
            start = time.perf_counter()
            model.estimator.predict_proba(one)
            times.append(time.perf_counter() - start)
        bare_p50 = statistics.median(times) * 1000
        start = time.perf_counter()
        for _ in range(args.batches):
            transform(batch, "text/csv", "text/csv", model)
        chain_rows = args.batches * 10_000 / (time.perf_counter() - start)
        ready = frame.iloc[:10_000]
        start = time.perf_counter()
        for _ in range(args.batches):
            model.estimator.predict_proba(ready)
        bare_rows = args.batches * 10_000 / (time.perf_counter() - start)

        server = make_endpoint_server(Path(tmp) / "model", port=0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            load(server.url, row, 1, 100)  # warm-up
            c1 = load(server.url, row, 1, args.requests)
            c16 = load(server.url, row, 16, args.requests)
            start = time.perf_counter()
            load(server.url, batch, 1, args.batches)
            http_rows = args.batches * 10_000 / (time.perf_counter() - start)
        finally:
            server.shutdown()
            server.server_close()

    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{len(features)} features"
    )
    print(
        f"in-process: predict_proba 1 row p50 {bare_p50:.2f} ms; "
        f"inference chain p50 {chain_p50:.2f} ms"
    )
    for name, (p50, p99, rps) in (("concurrency 1", c1), ("concurrency 16", c16)):
        print(
            f"HTTP single-row CSV, {name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, {rps:,.0f} req/s "
            f"(p50 / in-process chain: {p50 / chain_p50:.2f}x)"
        )
    print(
        f"10,000-row CSV batches: HTTP {http_rows:,.0f} rows/s; in-process chain "
        f"{chain_rows:,.0f} rows/s; bare predict_proba {bare_rows:,.0f} rows/s "
        f"(HTTP / chain {http_rows / chain_rows:.2f}x, HTTP / bare {http_rows / bare_rows:.2f}x)"
    )


if __name__ == "__main__":
    main()
