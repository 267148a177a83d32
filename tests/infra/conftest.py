"""Fixtures of the infra tier: the Pulumi program run under mocks, once per session each.

The harness lives in ``pulumi_harness.py`` (a module with a name of its own, so test modules
can import its helpers without clashing with ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("pulumi")
pytest.importorskip("pulumi_aws")

from pulumi_harness import REGION, Platform, run_program, stack_config


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The full platform, every optional layer on (one program run for the whole session)."""
    yield run_program(stack_config(tmp_path_factory.mktemp("stack")))


@pytest.fixture(scope="session")
def minimal_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The platform with nothing but `aws:region` set: every optional layer at its default."""
    missing = tmp_path_factory.mktemp("empty") / "state_machine.json"
    yield run_program({"aws:region": REGION, "stateMachineFile": str(missing)})
