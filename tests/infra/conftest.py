"""Fixtures of the infra tier: the Pulumi program run under mocks, once per session each.

The harness lives in ``pulumi_harness.py`` (a module with a name of its own, so test modules
can import its helpers without clashing with ``tests/conftest.py``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pulumi")
pytest.importorskip("pulumi_aws")

from pulumi_harness import REGION, REPO, Platform, run_program, stack_config


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The full platform, every optional layer on (one program run for the whole session)."""
    yield run_program(stack_config(tmp_path_factory.mktemp("stack")))


@pytest.fixture(scope="session")
def minimal_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The platform with nothing but `aws:region` set: every optional layer at its default."""
    missing = tmp_path_factory.mktemp("empty") / "state_machine.json"
    yield run_program({"aws:region": REGION, "stateMachineFile": str(missing)})


@pytest.fixture(scope="session")
def daily_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``lake run --export-step-functions`` output: the definition users deploy."""
    path = tmp_path_factory.mktemp("export") / "exported_state_machine.json"
    result = subprocess.run(
        [sys.executable, "-m", "lakelib", "run", "--export-step-functions"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    path.write_text(result.stdout)
    return path


@pytest.fixture(scope="session")
def daily_platform(
    tmp_path_factory: pytest.TempPathFactory, daily_export: Path
) -> Iterator[Platform]:
    """The full platform deployed from the real export and the real ``jobs/``."""
    config = stack_config(tmp_path_factory.mktemp("daily"))
    config["stateMachineFile"] = str(daily_export)
    config["jobsDir"] = str(REPO / "jobs")
    yield run_program(config)
