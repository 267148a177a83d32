"""Fixtures shared by every test tier.

- Every test runs with a clean settings state and no ``LAKE_*`` / AWS variables leaking in.
- Sockets may only connect to loopback: a test that reaches for the network fails loudly.
- Every boto3 request must be one AWS would accept (``plugins/strict_shapes.py``).
- ``moto_server`` is one ThreadedMotoServer on 127.0.0.1 for the session; ``aws`` resets it and
  points boto3 at it for one test.
- ``lake`` runs the CLI in a subprocess, as a user would: ``lake("status", home=lake_home)``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakelib.config import reset_settings

# Every boto3 request (in this process and in Python subprocesses) is checked against the
# service model's max/min/enum/pattern, which botocore and moto skip: see the plugin.
# ``plugins.cli``: the ``lake`` fixture (the CLI in a subprocess).
pytest_plugins = ["pytester", "plugins.strict_shapes", "plugins.cli"]

_REAL_CONNECT = socket.socket.connect
_REAL_CONNECT_EX = socket.socket.connect_ex


def _check_address(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host == "localhost":
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
        raise ConnectionRefusedError(f"tests may only connect to 127.0.0.1, not {host!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check_address(address)
    return _REAL_CONNECT(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check_address(address)
    return _REAL_CONNECT_EX(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _REAL_CONNECT  # type: ignore[method-assign]
    socket.socket.connect_ex = _REAL_CONNECT_EX  # type: ignore[method-assign]


_LEAKY_PREFIXES = ("LAKE_", "AWS_", "S3_RAW_BUCKET", "SOURCE_API_ENDPOINT")


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name)
    # The repository's lake.toml (contracts, workgroups) applies, but never its .lake/.
    monkeypatch.setenv("LAKE_HOME", str(tmp_path / "lake"))
    # Never pick up a developer's real AWS config or credentials.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def lake_home(tmp_path: Path) -> Path:
    """The empty local lake every test gets (``LAKE_HOME``)."""
    return tmp_path / "lake"


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small generated sources (4 days x 300 sales) with every kind of dirt present."""
    import datetime as dt

    from lakelib.samples import DirtRates, GeneratorSpec, generate_all

    rates = DirtRates(
        exact_duplicate=0.04,
        corrected_resend=0.03,
        moved_resend=0.3,
        null_required=0.02,
        negative_amount=0.02,
        absurd_amount=0.01,
        string_amount=0.1,
        bad_date=0.02,
        malformed_json=0.02,
        late_arriving=0.08,
        unknown_customer=0.03,
        channel_from=0.5,
    )
    out = tmp_path_factory.mktemp("samples")
    generate_all(
        out,
        GeneratorSpec(start=dt.date(2026, 1, 1), days=4, rows_per_day=300, seed=11, rates=rates),
    )
    return out


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A freshly reset moto server that boto3 (and lakelib) will talk to; yields its URL."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(request, timeout=10).close()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_settings()
    return moto_server


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local SparkSession for the whole test run (the fastest measured test settings).

    lakelib's session factory returns the active session, so the ETL under test runs on it.
    """
    import sys

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from lakelib.etl import get_spark

    session = get_spark(
        "lakelib-tests",
        master="local[2]",
        config={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.driver.memory": "1g",
            # Small test data: a fast JVM start beats peak JIT speed.
            "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        },
    )
    yield session
    session.stop()
