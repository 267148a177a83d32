"""jobs/pipeline_stage.py: the processing job's arguments -> one run_stage call."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pulumi_harness import REPO

import lakelib.pipeline
from lakelib.config import reset_settings
from lakelib.monitor import DIMENSIONS

SCRIPT = REPO / "jobs" / "pipeline_stage.py"


@pytest.fixture(scope="module")
def job() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pipeline_stage_job", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clean_env() -> Iterator[None]:
    """main() sets LAKE_* variables for the process, as it should in Glue; undo that here."""
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("LAKE_")]:
        del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


def test_glue_arguments_are_parsed_and_its_own_are_ignored(job: ModuleType) -> None:
    args, env = job.parse_args(
        [
            "--JOB_NAME",
            "lake-test-pipeline-stage",
            "--stage",
            "train",
            "--run_date",
            "2026-03-01T02:00:03.512Z",  # $$.Execution.StartTime
            "--job-bookmark-option",
            "job-bookmark-disable",
            "--TempDir",
            "s3://scripts/glue-temp/",
            "--raw_bucket",
            "lake-raw",
            "--query_results_bucket",
            "lake-results",
            "--region",
            "us-east-1",
            "--alerts_topic_arn",
            "arn:aws:sns:us-east-1:123456789012:lake-alerts",
        ]
    )
    assert args.stage == "train"
    assert args.run_date == dt.date(2026, 3, 1)
    assert args.profile is None and args.config is None
    assert env == {
        "LAKE_RAW_BUCKET": "lake-raw",
        "LAKE_QUERY_RESULTS_BUCKET": "lake-results",
        "LAKE_REGION": "us-east-1",
        "LAKE_ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:lake-alerts",
    }


def test_run_date_is_a_date_or_the_date_of_a_timestamp(job: ModuleType) -> None:
    assert job.run_date("2026-03-01") == dt.date(2026, 3, 1)
    assert job.run_date("2026-03-01T23:59:59+05:00") == dt.date(2026, 3, 1)
    with pytest.raises(SystemExit) as exit_:
        job.parse_args(["--stage", "report", "--run_date", "yesterday"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        job.parse_args(["--run_date", "2026-03-01"])  # no stage


def _array_arguments(expression: str, values: dict[str, str]) -> list[str]:
    """``States.Array('a', $.b, ...)`` as Step Functions evaluates it over ``values``."""
    import re

    assert expression.startswith("States.Array(") and expression.endswith(")"), expression
    items = re.findall(r"'([^']*)'|(\$\.[A-Za-z_.]+)", expression[len("States.Array(") : -1])
    return [literal if literal else values[path] for literal, path in items]


def test_every_stage_the_export_sends_to_the_job_parses(job: ModuleType) -> None:
    """The contract with lakelib's export: its processing jobs' arguments are ones the
    script reads, and the script is where the job's ``code`` input mounts it."""
    definition = json.loads(
        lakelib.pipeline.export_state_machine(lakelib.pipeline.daily_pipeline())
    )
    values = {
        "$.run_date": "2026-03-01T02:00:00Z",
        "$.execution": "daily-1",
        "$.train.job.artifact": "s3://scripts/models/training-jobs/j/output/model.tar.gz",
    }
    stages = []
    for state in definition["States"].values():
        if state.get("Resource") != "arn:aws:states:::sagemaker:createProcessingJob.sync":
            continue
        app = state["Parameters"]["AppSpecification"]
        assert app["ContainerEntrypoint"] == [
            "python3",
            "/opt/ml/processing/input/code/pipeline_stage.py",
        ]
        (code,) = [i for i in state["Parameters"]["ProcessingInputs"] if i["InputName"] == "code"]
        assert code["S3Input"]["S3Uri"].endswith("/jobs/pipeline_stage.py")
        args, _ = job.parse_args(_array_arguments(app["ContainerArguments.$"], values))
        assert args.run_date == dt.date(2026, 3, 1) and args.execution == "daily-1"
        stages.append((args.stage, args.step))
    assert stages == [
        ("train", "prepare"),
        ("train", "register"),
        ("transform", "prepare"),
        ("transform", "catalog"),
        ("report", None),
        ("notebooks", None),
    ]
    assert {name for name, _ in stages} <= {
        s.name for s in lakelib.pipeline.daily_pipeline().stages
    }
    assert set(lakelib.pipeline._daily.AWS_STEPS) == {s for s in stages if s[1]}


def test_lakelib_is_installed_from_the_wheelhouse_without_an_index(
    job: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the container lakelib is not installed: pip gets only the wheelhouse input."""
    import zipfile

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "lakelib-0.1.0-emr7.zip", "w") as archive:
        archive.writestr("lakelib-0.1.0-py3-none-any.whl", b"wheel")
        archive.writestr("pandas-2.3.3-cp311-cp311-manylinux_2_17_x86_64.whl", b"wheel")
    ran: list[list[str]] = []

    def run(command: list[str], check: bool) -> None:
        folder = Path(command[command.index("--find-links") + 1])
        ran.append([*command, *sorted(p.name for p in folder.iterdir())])

    assert job.install_lakelib(wheels) == []  # importable here: nothing to install
    monkeypatch.setattr(job.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(job.subprocess, "run", run)
    command = job.install_lakelib(wheels)
    assert command[1:5] == ["-m", "pip", "install", "--no-index"]
    assert command[-1] == "lakelib[aws]"
    (seen,) = ran
    assert seen[-2:] == [
        "lakelib-0.1.0-py3-none-any.whl",
        "pandas-2.3.3-cp311-cp311-manylinux_2_17_x86_64.whl",
    ]


# -- the job as its container runs it: a subprocess, the stack's names, config from S3 -------

SHIPPED_CONFIG = """
[monitoring]
metrics_namespace = "acme-lake"

[pipeline]
notebooks = []

[[alerts.rules]]
name = "failed_stage"
metric = "failed_stages"
above = 0
"""
CONFIG_URI = "s3://lake-scripts/config/lake.toml"


def _glue_run(
    args: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the script in a folder of its own, no lake.toml, the stack's names as arguments."""
    argv = [
        "--profile",
        "aws",
        "--region",
        "us-east-1",
        "--raw_bucket",
        "lake-raw",
        "--scripts_bucket",
        "lake-scripts",
        *args,
    ]
    env = {**os.environ, **(extra_env or {})}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def emf_lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line, parsed as a CloudWatch EMF document (fails on anything else)."""
    documents = []
    for line in stdout.splitlines():
        document = json.loads(line)  # a bare JSON line: no time or level in front
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [list(DIMENSIONS)]
        for dimension in DIMENSIONS:
            assert isinstance(document[dimension], str)
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], int | float)
        documents.append(document)
    return documents


@pytest.fixture
def shipped_config(aws: str) -> str:
    from lakelib.aws import client

    s3 = client("s3")
    for bucket in ("lake-raw", "lake-scripts"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="lake-scripts", Key="config/lake.toml", Body=SHIPPED_CONFIG.encode())
    return CONFIG_URI


@pytest.mark.aws
def test_the_stage_job_reads_the_shipped_config_and_prints_bare_emf(
    shipped_config: str, tmp_path: Path
) -> None:
    done = _glue_run(
        [
            "--stage",
            "notebooks",
            "--run_date",
            "2026-03-02T02:00:00Z",
            "--LAKE_CONFIG",
            shipped_config,
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (document,) = emf_lines(done.stdout)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "acme-lake"  # from the shipped config, not the default
    assert (document["Pipeline"], document["Stage"]) == ("daily", "notebooks")
    assert document["Failures"] == 0 and document["DurationS"] >= 0
    assert document["Notebooks"] == 0  # the shipped config lists none


@pytest.mark.aws
def test_the_stage_job_without_a_config_fails_naming_lake_config(aws: str, tmp_path: Path) -> None:
    done = _glue_run(["--stage", "report", "--run_date", "2026-03-02"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "pipeline_stage report 2026-03-02: no workspace config: LAKE_CONFIG is not set"
    )
    (document,) = emf_lines(done.stdout)
    assert (document["Stage"], document["Failures"]) == ("report", 1)
    # Named but not uploaded: the same refusal, naming the URI.
    done = _glue_run(
        ["--stage", "report", "--run_date", "2026-03-02", "--LAKE_CONFIG", CONFIG_URI], tmp_path
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"pipeline_stage report 2026-03-02: cannot read LAKE_CONFIG={CONFIG_URI}: "
        "NoSuchBucket: The specified bucket does not exist"
    )


def test_an_unknown_stage_is_a_lake_error_from_lakelib(
    job: ModuleType, clean_env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The real run_stage: it refuses before touching any zone, so no AWS is needed.
    config = tmp_path / "lake.toml"
    config.write_text(SHIPPED_CONFIG)
    argv = ["--stage", "deploy", "--run_date", "2026-03-01", "--LAKE_CONFIG", str(config)]
    assert job.main(argv) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert "no stage 'deploy' in the daily pipeline" in line
    (document,) = emf_lines(captured.out)
    assert document["Failures"] == 1
