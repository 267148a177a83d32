"""The ETL job registry: what the CLI, the pipeline, the job scripts and the backends share."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lakelib.errors import ConfigError
from lakelib.etl._jobs import ETL_JOBS, etl_job, resolve_jobs
from lakelib.pipeline import daily_pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_has_the_script_glue_and_emr_run() -> None:
    for job in ETL_JOBS.values():
        script = ROOT / "jobs" / job.script
        tree = ast.parse(script.read_text())
        called = [
            node.args[0].value
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "main"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ]
        assert called == [job.name], script


def test_the_daily_pipeline_runs_every_job_as_its_stage_on_its_glue_job() -> None:
    stages = {stage.name: stage for stage in daily_pipeline().stages}
    for job in ETL_JOBS.values():
        stage = stages[job.stage]
        assert stage.aws_task is not None
        assert stage.aws_task["Parameters"]["JobName"] == f"${{job_{job.name}}}"
        assert stage.description == job.description


def test_jobs_resolve_in_order_and_an_unknown_one_names_the_known() -> None:
    assert [job.name for job in resolve_jobs(None)] == ["sales_clean", "curate"]
    assert [job.name for job in resolve_jobs("all")] == ["sales_clean", "curate"]
    assert [job.name for job in resolve_jobs("curate")] == ["curate"]
    with pytest.raises(
        ConfigError, match=r"unknown etl job 'sales' \(known: sales_clean, curate, all\)"
    ):
        etl_job("sales")


def test_curate_holds_the_lock_of_the_job_it_reads() -> None:
    assert ETL_JOBS["curate"].reads == ("sales_clean",)
    assert all(job.lock == job.name for job in ETL_JOBS.values())
    assert [job.name for job in ETL_JOBS.values() if job.bookmarked] == ["sales_clean"]


def test_curate_waits_for_sales_clean_whatever_the_table_is_called(tmp_path: Path) -> None:
    """The lock is the job's, not its table's: a renamed [etl] table still excludes curate."""
    from lakelib.config import load_settings
    from lakelib.errors import EtlError
    from lakelib.etl._curate_job import run_curate
    from lakelib.etl._state import etl_lock

    (tmp_path / "lake.toml").write_text('[etl]\ntable = "sales_v2"\n')
    settings = load_settings(cwd=tmp_path, home=tmp_path / "lake", env={})
    with (
        etl_lock("sales_clean", settings),
        pytest.raises(EtlError, match="holds the sales_clean lock"),
    ):
        run_curate(settings=settings, spark=object())
