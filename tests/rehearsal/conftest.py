"""Fixtures of the deploy rehearsal: its own moto server, a sample source API, the platform.

The rehearsal's moto server is a ThreadedMotoServer of its own on 127.0.0.1. moto keeps its
backends and its IAM-enforcement switch per process, not per server, so the rehearsal resets
moto when it stands the platform up and switches enforcement (and the Step Functions
interpreter) off again when it ends; no other test runs in between.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pulumi")
pytest.importorskip("pulumi_aws")
pytest.importorskip("moto")

from rehearsal_harness import DailySource, Platform, _moto_api, generate_history, render


@pytest.fixture(scope="module")
def rehearsal_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    yield endpoint
    # moto's switches are per process: leave them as the other tests expect them.
    _moto_api(endpoint, "/moto-api/reset-auth", b"inf")
    _moto_api(endpoint, "/moto-api/config", {"stepfunctions": {"execute_state_machine": False}})
    _moto_api(endpoint, "/moto-api/reset", b"")
    server.stop()


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample sources of the rehearsed lake's whole history."""
    return generate_history(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="session")
def daily_source(history: Path) -> Iterator[DailySource]:
    source = DailySource(history)
    yield source
    source.close()


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, daily_source: DailySource) -> Platform:
    return render(tmp_path_factory.mktemp("render"), daily_source.url)
