"""jobs/pipeline_stage.py: Glue-style arguments -> one run_stage call; no AWS needed."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from pulumi_harness import REPO

import lakelib.pipeline
from lakelib.config import reset_settings
from lakelib.errors import LakeError

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


def test_every_stage_the_export_sends_to_the_job_parses(job: ModuleType) -> None:
    """The contract with lakelib's export: its Arguments are ones the script reads."""
    definition = json.loads(
        lakelib.pipeline.export_state_machine(lakelib.pipeline.daily_pipeline())
    )
    stages = []
    for state in definition["States"].values():
        parameters = state.get("Parameters", {})
        if parameters.get("JobName") != "${job_pipeline_stage}":
            continue
        argv = []
        for key, value in parameters["Arguments"].items():
            if key.endswith(".$"):  # a JSONPath Step Functions resolves: the run date
                key, value = key[:-2], "2026-03-01T02:00:00Z"
            argv += [key, value]
        args, _ = job.parse_args(argv)
        assert args.run_date == dt.date(2026, 3, 1)
        stages.append(args.stage)
    assert stages == ["train", "transform", "report", "notebooks"]
    assert set(stages) <= {s.name for s in lakelib.pipeline.daily_pipeline().stages}


def test_main_runs_the_stage_on_the_aws_profile_and_prints_one_json_line(
    job: ModuleType,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls: list[tuple[Any, ...]] = []

    def run_stage(name: str, run_date: dt.date) -> dict[str, Any]:
        calls.append(
            (name, run_date, os.environ.get("LAKE_PROFILE"), os.environ["LAKE_RAW_BUCKET"])
        )
        return {"rows": 12, "positive_share": 0.25}

    monkeypatch.setattr(lakelib.pipeline, "run_stage", run_stage)
    code = job.main(
        ["--stage", "transform", "--run_date", "2026-03-02T02:00:00Z", "--raw_bucket", "raw-b"]
    )
    assert code == 0
    assert calls == [("transform", dt.date(2026, 3, 2), "aws", "raw-b")]
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {
        "stage": "transform",
        "run_date": "2026-03-02",
        "metrics": {"rows": 12, "positive_share": 0.25},
    }


def test_an_explicit_profile_wins(
    job: ModuleType, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    monkeypatch.setattr(
        lakelib.pipeline, "run_stage", lambda *_: seen.append(os.environ["LAKE_PROFILE"]) or {}
    )
    os.environ["LAKE_PROFILE"] = "local"
    assert job.main(["--stage", "report", "--run_date", "2026-03-01"]) == 0
    assert job.main(["--stage", "report", "--run_date", "2026-03-01", "--profile", "aws"]) == 0
    assert seen == ["local", "aws"]


def test_a_lake_error_exits_1_with_one_line(
    job: ModuleType,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing(*_: Any) -> dict[str, Any]:
        raise LakeError("no promoted model\nsee the registry")

    monkeypatch.setattr(lakelib.pipeline, "run_stage", failing)
    assert job.main(["--stage", "transform", "--run_date", "2026-03-01"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "pipeline_stage transform 2026-03-01: no promoted model see the registry"
    ]


def test_an_unknown_stage_is_a_lake_error_from_lakelib(
    job: ModuleType, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real run_stage: it refuses before touching any zone, so no AWS is needed.
    assert job.main(["--stage", "deploy", "--run_date", "2026-03-01"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "no stage 'deploy' in the daily pipeline" in line
