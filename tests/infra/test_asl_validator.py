"""The exported state machine, filled as Pulumi fills it, passes a real ASL validator.

npm ``asl-validator`` 4.0.0 (pinned in ``tools/package.json``, installed by ``make test`` with
``npm ci``) validates Amazon States Language offline: state names, transitions, Task fields,
intrinsic functions and JSONPath expressions. Skipped, with the command to run, when the
tools are not installed (``npm ci --prefix tools``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from lake_platform.ingestion import unfilled_placeholders
from pulumi_harness import REPO, Platform

TOOLS = REPO / "tools"
VALIDATOR = TOOLS / "node_modules" / ".bin" / "asl-validator"


@pytest.fixture(scope="module")
def validator() -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (asl-validator runs on Node.js)")
    if not VALIDATOR.exists():
        pytest.skip(f"asl-validator is not installed: npm ci --prefix {TOOLS.relative_to(REPO)}")
    return VALIDATOR


def validate(validator: Path, definition: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(validator), "--json-path", str(definition)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def exported(daily_export: Path, daily_platform: Platform) -> tuple[Path, Platform]:
    """`lake run --export-step-functions` output, and the platform deployed from it."""
    return daily_export, daily_platform


def test_the_tool_is_the_pinned_version() -> None:
    package = json.loads((TOOLS / "package.json").read_text())
    assert package["devDependencies"] == {"asl-validator": "4.0.0"}
    lock = json.loads((TOOLS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/asl-validator"]["version"] == "4.0.0"


def test_the_exported_definition_is_valid_asl(
    validator: Path, exported: tuple[Path, Platform]
) -> None:
    path, _ = exported
    assert json.loads(path.read_text())["States"]  # the CLI's export, as written
    result = validate(validator, path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_definition_pulumi_deploys_is_valid_asl(
    validator: Path, exported: tuple[Path, Platform], tmp_path: Path
) -> None:
    _, platform = exported
    (machine,) = platform.of_type("aws:sfn/stateMachine:StateMachine")
    text = machine.inputs["definition"]
    assert unfilled_placeholders(text) == []
    deployed = tmp_path / "deployed.json"
    deployed.write_text(text)
    result = validate(validator, deployed)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_definition(
    validator: Path, exported: tuple[Path, Platform], tmp_path: Path
) -> None:
    """A negative control: the check is live (a transition to a state that does not exist)."""
    path, _ = exported
    definition = json.loads(path.read_text())
    first = definition["StartAt"]
    definition["States"][first].pop("Default", None)
    definition["States"][first]["Default"] = "no_such_state"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(definition))
    result = validate(validator, broken)
    assert result.returncode != 0
    assert "no_such_state" in result.stdout + result.stderr
