"""Fixtures of the deploy rehearsal: its own moto server, a sample source API, the platform.

The rehearsal's moto server is a ThreadedMotoServer of its own on 127.0.0.1. moto keeps its
backends and its IAM-enforcement switch per process, not per server, so the rehearsal resets
moto when it stands the platform up and switches enforcement (and the Step Functions
interpreter) off again when it ends; no other test runs in between.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pulumi")
pytest.importorskip("pulumi_aws")
pytest.importorskip("moto")

from rehearsal_harness import Platform, Stack, _moto_api, render

DAYS = ("2026-01-01", "2026-01-02")


@pytest.fixture(scope="module")
def rehearsal_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


class DailySource:
    """The vendor API the ingestion Lambda pulls: it serves one day's sales at a time."""

    def __init__(self, samples: Path) -> None:
        import threading

        from lakelib.samples._api import make_sample_api

        self.samples = samples
        self.server = make_sample_api(samples, page_size=100)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.serve("2026-01-01")

    def serve(self, day: str) -> None:
        stamp = dt.date.fromisoformat(day).strftime("%Y%m%d")
        folder = self.samples / "sales"
        records: list[Any] = []
        for path in sorted(folder.glob(f"sales_{stamp}.jsonl")):
            records.extend(_load_file(path))
        self.server.records = {**self.server.records, "sales": records}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _load_file(path: Path) -> list[Any]:
    import orjson

    out: list[Any] = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                out.append(line.decode("utf-8", "replace"))
    return out


@pytest.fixture(scope="module")
def daily_source(samples: Path) -> Iterator[DailySource]:
    source = DailySource(samples)
    yield source
    source.close()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, daily_source: DailySource) -> Platform:
    return render(tmp_path_factory.mktemp("render"), daily_source.url)


def stand_up(platform: Platform, endpoint: str, workdir: Path) -> Stack:
    """A fresh moto (reset), the platform stood up in it, reference data landed by a user."""
    _moto_api(endpoint, "/moto-api/reset", b"")
    stack = Stack(platform, endpoint, workdir)
    stack.stand_up()
    return stack


def land_reference_data(stack: Stack, samples: Path) -> None:
    """What a user does once after `pulumi up`: `lake ingest customers|products` (aws profile)."""
    from lakelib.config import load_settings
    from lakelib.ingest import ingest

    assert stack.admin is not None
    saved = dict(os.environ)
    os.environ.update(
        {
            **stack.admin.env(),
            "AWS_ENDPOINT_URL": stack.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    try:
        env = {
            "LAKE_RAW_BUCKET": stack.bucket("raw"),
            "LAKE_PROCESSED_BUCKET": stack.bucket("processed"),
            "LAKE_CURATED_BUCKET": stack.bucket("curated"),
            "LAKE_SCRIPTS_BUCKET": stack.bucket("scripts"),
            "LAKE_QUERY_RESULTS_BUCKET": stack.bucket("query-results"),
            "LAKE_DATABASE": str(stack.outputs["database"]),
        }
        settings = load_settings(profile="aws", env={**os.environ, **env})
        when = dt.datetime(2025, 12, 31, 12, 0, tzinfo=dt.UTC)
        for source in ("customers", "products"):
            ingest(source, str(samples / source), run_date=when, settings=settings)
    finally:
        os.environ.clear()
        os.environ.update(saved)
