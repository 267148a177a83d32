"""``lake run`` as a user meets it: a finished date, JSON summaries, log lines, exit codes.

The daily pipeline needs Spark for its ETL, so these runs use dates whose record already
says what happened, a configuration that fails before the ETL, or (in-process) a small
pipeline of the runner tests' kind in place of the daily one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from plugins.cli import LakeCli

from lakelib.config import Zone, load_settings
from lakelib.errors import IngestError
from lakelib.monitor import load_run
from lakelib.pipeline import Pipeline, Stage, StageContext, run_pipeline
from lakelib.storage import zone_store

DAY = dt.date(2026, 1, 3)
RULES = """
[[alerts.rules]]
name = "failed_stage"
metric = "failed_stages"
above = 0
severity = "critical"
"""


class Script:
    """Stages that count their calls and fail while ``failures`` says so."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    def stage(self, name: str, metrics: dict[str, Any]) -> Stage:
        def run(ctx: StageContext) -> dict[str, Any]:
            self.calls[name] += 1
            if self.failures[name] > 0:
                self.failures[name] -= 1
                raise IngestError(f"{name} broke")
            return metrics

        return Stage(name, run, retries=0)

    def pipeline(self) -> Pipeline:
        return Pipeline(
            "daily",
            (self.stage("ingest", {"rows": 10}), self.stage("etl", {"rows_out": 9})),
        )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "lake.toml").write_text(RULES)
    return tmp_path


def test_a_finished_date_says_so_instead_of_reprinting_its_timings(
    lake: LakeCli, lake_home: Path, project: Path
) -> None:
    settings = load_settings(cwd=project)
    finished = run_pipeline(Script().pipeline(), DAY, settings=settings)

    result = lake("run", "--date", "2026-01-03", cwd=project, home=lake_home)
    assert (result.returncode, result.stderr) == (0, "")
    report = project / "lake" / "runs" / "2026-01-03" / "report.html"
    assert result.stdout.splitlines() == [
        f"daily 2026-01-03 already finished at {finished.finished_at}; nothing to do "
        "(use --force to run again)",
        f"report: {report}",
    ]

    result = lake("run", "--date", "2026-01-03", "--format", "json", cwd=project, home=lake_home)
    assert (result.returncode, result.stderr) == (0, "")
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["already_finished"]) == ("succeeded", True)
    assert [(s["name"], s["status"], s["ran_now"]) for s in summary["stages"]] == [
        ("ingest", "succeeded", False),
        ("etl", "succeeded", False),
    ]
    assert summary["stages"][1]["metrics"] == {"rows_out": 9}
    assert summary["finished_at"] == finished.finished_at and summary["report"] == str(report)


def test_a_config_error_fails_once_with_public_log_names_and_a_json_summary(
    lake: LakeCli,
    lake_home: Path,
    project: Path,
) -> None:
    """The real daily pipeline, stopped by its first stage's configuration."""
    # A source with no location: lake.toml's keys and types are checked at load (a misspelt
    # key never gets this far), what a stage needs from them when it runs.
    (project / "lake.toml").write_text(RULES + "\n[pipeline.ingest.sales]\n")

    result = lake("run", "--date", "2026-01-03", cwd=project, home=lake_home)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "WARNING lakelib.pipeline: [critical] failed_stage: failed_stages = 1 is above 0.0 "
        "(2026-01-03)",
        "lake: error: daily 2026-01-03: stage ingest failed after 1 attempt(s): "
        "[pipeline.ingest.sales] needs a 'from' location",
    ]

    result = lake("run", "--date", "2026-01-03", "--format", "json", cwd=project, home=lake_home)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("lake: error: daily 2026-01-03: stage ingest")
    summary = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert (summary["status"], summary["already_finished"], summary["report"]) == (
        "failed",
        False,
        None,
    )
    assert [(s["name"], s["status"], s["ran_now"], s["error"]) for s in summary["stages"]] == [
        ("ingest", "failed", True, "[pipeline.ingest.sales] needs a 'from' location")
    ]


def test_a_resumed_run_marks_what_earlier_runs_did_and_force_runs_again(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lakelib.cli import main

    script = Script()
    monkeypatch.setattr("lakelib.cli._run.daily_pipeline", script.pipeline)
    monkeypatch.chdir(project)
    script.failures["etl"] = 1
    assert main(["run", "--date", "2026-01-03"]) == 1
    capsys.readouterr()

    assert main(["run", "--date", "2026-01-03"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [
        ["ingest", "succeeded"],
        ["etl", "succeeded"],
    ]
    assert lines[0].endswith("s (in an earlier run)") and lines[1].endswith(" s")
    assert script.calls == Counter({"ingest": 1, "etl": 2})

    assert main(["run", "--date", "2026-01-03", "--force", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["status"], summary["already_finished"]) == ("succeeded", False)
    assert [s["ran_now"] for s in summary["stages"]] == [True, True]
    assert script.calls == Counter({"ingest": 2, "etl": 3})
    runs = zone_store(Zone.RUNS, load_settings(cwd=project))
    record = load_run(runs, "daily", "2026-01-03")
    assert record is not None and record.finished_at == summary["finished_at"]

    assert main(["run", "--date", "2026-01-03", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "name,status,ran_now,attempts,duration_s,error",
        f"ingest,succeeded,False,1,{record.stage('ingest').duration_s},",
        f"etl,succeeded,False,1,{record.stage('etl').duration_s},",
    ]
    assert main(["run", "--date", "2026-01-03", "--format", "yaml"]) == 2
