"""Glue and EMR ETL helpers against moto server: API calls and run-state handling."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime
from typing import Any

import pytest

from lakelib.aws import client
from lakelib.config import load_settings
from lakelib.errors import ConfigError, EtlError
from lakelib.etl import EmrEtl, GlueEtl, run_etl_remote


def _transition(server: str, model: str, transition: dict[str, Any]) -> None:
    body = json.dumps({"model_name": model, "transition": transition}).encode()
    request = urllib.request.Request(
        f"{server}/moto-api/state-manager/set-transition", data=body, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(request, timeout=10).close()


@pytest.fixture
def aws_settings(aws: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for zone in ("raw", "processed", "curated", "scripts", "query-results"):
        monkeypatch.setenv(f"LAKE_{zone.upper().replace('-', '_')}_BUCKET", f"lake-{zone}")
        client("s3").create_bucket(Bucket=f"lake-{zone}")
    return load_settings(profile="aws")


def _glue_job(name: str) -> None:
    client("glue").create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://lake-scripts/jobs/{name}.py"},
        GlueVersion="5.0",
    )


def test_glue_run_is_followed_to_success(aws: str, aws_settings: Any) -> None:
    _glue_job("sales_clean")
    _transition(aws, "glue::job_run", {"progression": "manual", "times": 1})
    try:
        seen: list[str] = []
        backend = GlueEtl(aws_settings, poll_interval=0)
        (run,) = backend.run(
            ["sales_clean"], full=True, since=date(2026, 1, 5), on_state=seen.append
        )
    finally:
        _transition(aws, "glue::job_run", {"progression": "immediate"})
    assert run.succeeded and run.states[-2:] == ["RUNNING", "SUCCEEDED"]
    assert run.duration_s == 123  # moto's fixed execution time
    assert any("RUNNING" in message for message in seen)
    info = client("glue").get_job_run(JobName="sales_clean", RunId=run.run_id)["JobRun"]
    assert info["Arguments"] == {"--full": "true", "--since": "2026-01-05"}


def test_glue_job_names_come_from_lake_toml_and_missing_jobs_are_explained(
    aws_settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _glue_job("lake-dev-sales_clean")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"glue_jobs": {"sales_clean": "lake-dev-sales_clean"}}))
    monkeypatch.setenv("LAKE_STACK_OUTPUTS", str(outputs))
    settings = load_settings(profile="aws")
    (run,) = GlueEtl(settings, poll_interval=0).run(["sales_clean"])
    assert run.job_name == "lake-dev-sales_clean" and run.succeeded
    with pytest.raises(EtlError, match="no Glue job 'curate' for curate"):
        GlueEtl(settings, poll_interval=0).run(["curate"])


class _FailingGlue:
    """A Glue client whose run fails after one poll (moto runs always succeed)."""

    def __init__(self) -> None:
        self.states = iter(["RUNNING", "FAILED"])

    def start_job_run(self, **kwargs: Any) -> dict[str, str]:
        return {"JobRunId": "jr_1"}

    def get_job_run(self, **kwargs: Any) -> dict[str, Any]:
        state = next(self.states)
        info: dict[str, Any] = {"JobRunState": state, "ExecutionTime": 61}
        if state == "FAILED":
            info.update(
                ErrorMessage="AnalysisException: path does not exist",
                NumberOfWorkers=5,
                WorkerType="G.2X",
            )
        return {"JobRun": info}


def test_a_failed_glue_run_raises_with_its_error(
    aws_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _FailingGlue()
    # Only the client is patched (undo() would also drop the aws fixture's endpoint, and the
    # run's notes would then retry against AWS, blocked, for seconds).
    with monkeypatch.context() as patched:
        patched.setattr(GlueEtl, "client", property(lambda self: fake))
        with pytest.raises(EtlError, match="ended FAILED: AnalysisException: path does not exist"):
            run_etl_remote("sales_clean", settings=aws_settings, poll_interval=0)
    run = GlueEtl(aws_settings, client=_FailingGlue(), poll_interval=0).run(["sales_clean"])[0]
    assert (run.state, run.dpu_seconds, run.duration_s) == (
        "FAILED",
        610.0,
        61.0,
    )  # 5 x 2 DPU x 61 s


def test_glue_follow_gives_up_after_the_timeout(aws: str, aws_settings: Any) -> None:
    _glue_job("sales_clean")
    _transition(aws, "glue::job_run", {"progression": "manual", "times": 1000})
    clock = iter(range(0, 1000, 10))
    try:
        backend = GlueEtl(aws_settings, poll_interval=0, timeout=25, clock=lambda: next(clock))
        (run,) = backend.run(["sales_clean"])
    finally:
        _transition(aws, "glue::job_run", {"progression": "immediate"})
    assert run.state == "STARTING" and "still STARTING after 25 s" in str(run.error)


def _cluster() -> str:
    return str(
        client("emr").run_job_flow(
            Name="lake-dev-emr",
            ReleaseLabel="emr-7.9.0",
            Instances={
                "MasterInstanceType": "m5.xlarge",
                "SlaveInstanceType": "m5.large",
                "InstanceCount": 3,
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]
    )


def test_emr_steps_on_a_running_cluster(aws_settings: Any) -> None:
    cluster = _cluster()
    clock = iter(range(0, 1000, 10))
    backend = EmrEtl(
        aws_settings, cluster_id=cluster, poll_interval=0, timeout=15, clock=lambda: next(clock)
    )
    cluster_id, step_ids = backend.submit(["sales_clean", "curate"], full=True)
    assert cluster_id == cluster and len(step_ids) == 2
    steps = {s["Name"]: s for s in client("emr").list_steps(ClusterId=cluster)["Steps"]}
    args = steps["lakelib sales_clean"]["Config"]["Args"]
    assert args[:4] == [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "s3://lake-scripts/jobs/sales_clean.py",
    ]
    assert args[4:6] == ["--JOB_NAME", "sales_clean"] and "--full" in args
    # The config Pulumi uploads, as the job argument Glue also gets.
    config = args.index("--LAKE_CONFIG")
    assert args[config + 1] == "s3://lake-scripts/config/lake.toml" and "lake-raw" in args
    # moto leaves steps running: following stops at the timeout with a clear note.
    run = backend.follow(cluster, "sales_clean", step_ids[0])
    assert not run.succeeded and "after 15 s" in str(run.error)
    with pytest.raises(ConfigError, match="no EMR cluster to run on"):
        EmrEtl(aws_settings).submit(["sales_clean"])


def test_emr_transient_cluster_bootstraps_lakelib_and_terminates(aws_settings: Any) -> None:
    client("s3").put_object(
        Bucket="lake-scripts", Key="jobs/lib/lakelib-0.1.0-py3-none-any.whl", Body=b"wheel"
    )
    backend = EmrEtl(aws_settings, transient=True, poll_interval=0)
    cluster, step_ids = backend.submit(["sales_clean", "curate"])
    emr = client("emr")
    described = emr.describe_cluster(ClusterId=cluster)["Cluster"]
    assert described["AutoTerminate"] is True
    actions = emr.list_bootstrap_actions(ClusterId=cluster)["BootstrapActions"]
    assert actions[0]["ScriptPath"] == "s3://lake-scripts/jobs/emr_bootstrap.sh"
    assert actions[0]["Args"] == ["s3://lake-scripts/jobs/lib/lakelib-0.1.0-py3-none-any.whl"]
    steps = emr.list_steps(ClusterId=cluster)["Steps"]
    assert sorted(s["Id"] for s in steps) == sorted(step_ids)
    assert {s["ActionOnFailure"] for s in steps} == {"TERMINATE_CLUSTER"}


class _Emr:
    def __init__(self, states: list[str]) -> None:
        self.states = iter(states)

    def describe_step(self, **kwargs: Any) -> dict[str, Any]:
        state = next(self.states)
        status: dict[str, Any] = {"State": state}
        if state in ("COMPLETED", "FAILED"):
            status["Timeline"] = {
                "StartDateTime": datetime(2026, 1, 1, 2, 0, tzinfo=UTC),
                "EndDateTime": datetime(2026, 1, 1, 2, 3, tzinfo=UTC),
            }
        if state == "FAILED":
            status["FailureDetails"] = {"Message": "Exception in thread main"}
        return {"Step": {"Status": status}}


def test_emr_step_states_are_followed_to_the_end(aws_settings: Any) -> None:
    done = EmrEtl(aws_settings, client=_Emr(["PENDING", "RUNNING", "COMPLETED"]), poll_interval=0)
    run = done.follow("j-1", "sales_clean", "s-1")
    assert run.succeeded and run.states == ["PENDING", "RUNNING", "COMPLETED"]
    assert run.duration_s == 180
    failed = EmrEtl(aws_settings, client=_Emr(["RUNNING", "FAILED"]), poll_interval=0)
    run = failed.follow("j-1", "curate", "s-2")
    assert run.state == "FAILED" and run.error == "Exception in thread main"


def test_a_glue_etl_job_without_its_config_fails_naming_lake_config(
    aws_settings: Any, tmp_path: Any
) -> None:
    """Exactly Pulumi's arguments minus the config: one line naming LAKE_CONFIG, exit 1, and
    the failure as a bare EMF line (never a run on default contracts)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from lakelib.monitor import DIMENSIONS

    script = Path(__file__).resolve().parents[2] / "jobs" / "sales_clean.py"
    pulumi_args = [
        "--JOB_NAME",
        "lake-sales-clean",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--TempDir",
        "s3://lake-scripts/glue-temp/",
        "--database",
        "data_lake_db",
        "--raw_bucket",
        "lake-raw",
        "--processed_bucket",
        "lake-processed",
        "--curated_bucket",
        "lake-curated",
        "--scripts_bucket",
        "lake-scripts",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *pulumi_args, *extra],
            cwd=tmp_path,  # Glue's working folder holds no lake.toml
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = run()
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "sales_clean: no workspace config: LAKE_CONFIG is not set"
    )
    (line,) = done.stdout.splitlines()
    document = json.loads(line)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [list(DIMENSIONS)]
    assert (document["Pipeline"], document["Stage"], document["Failures"]) == ("daily", "etl", 1)

    uri = "s3://lake-scripts/config/lake.toml"  # named, but never uploaded
    done = run("--LAKE_CONFIG", uri)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        f"sales_clean: cannot read LAKE_CONFIG={uri}: NoSuchKey"
    )


@pytest.mark.spark
def test_a_glue_etl_job_with_pulumis_arguments_applies_the_shipped_contract(
    aws: str, spark: Any, samples: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Issue 13, item 2: with exactly Pulumi's arguments (``--LAKE_CONFIG s3://...``) and no
    lake.toml beside it, ``sales_clean`` applies the workspace's contract and reports its
    counts as a bare EMF line. Spark's s3a connector is not available offline, so the zones
    are local folders (``LAKE_<ZONE>_URI``); the config, catalog and names are AWS's."""
    import datetime as dt
    from pathlib import Path

    from lakelib.etl._entry import main
    from lakelib.ingest import ingest
    from lakelib.monitor import DIMENSIONS
    from lakelib.samples import read_manifest

    repo = Path(__file__).resolve().parents[2]
    s3 = client("s3")
    s3.create_bucket(Bucket="lake-scripts")
    uri = "s3://lake-scripts/config/lake.toml"
    s3.put_object(
        Bucket="lake-scripts", Key="config/lake.toml", Body=(repo / "lake.toml").read_bytes()
    )
    for zone in ("raw", "processed", "curated", "quarantine", "runs", "scripts", "models"):
        monkeypatch.setenv(f"LAKE_{zone.upper()}_URI", str(tmp_path / "zones" / zone))
    monkeypatch.chdir(tmp_path)  # Glue's working folder: no lake.toml to walk up to

    # Land without the contract, so the job's own check is what quarantines.
    monkeypatch.setenv("LAKE_CONFIG", uri)
    landing = load_settings(profile="aws")
    start = dt.date(2026, 1, 1)
    for ref in ("customers", "products"):
        ingest(ref, str(samples / ref), run_date=start, settings=landing)
    for day in (start, start + dt.timedelta(days=1)):
        at = dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC)
        path = samples / "sales" / f"sales_{day:%Y%m%d}.jsonl"
        ingest("sales", str(path), run_date=at, validate=False, settings=landing)
    monkeypatch.delenv("LAKE_CONFIG")
    capsys.readouterr()

    code = main(
        "sales_clean",
        [
            "--JOB_NAME", "lake-sales-clean", "--job-bookmark-option", "job-bookmark-enable",
            "--database", "data_lake_db", "--raw_bucket", "lake-raw",
            "--processed_bucket", "lake-processed", "--curated_bucket", "lake-curated",
            "--scripts_bucket", "lake-scripts", "--LAKE_CONFIG", uri,
        ],
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (line,) = captured.out.splitlines()
    document = json.loads(line)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [list(DIMENSIONS)]
    assert (document["Pipeline"], document["Stage"], document["Failures"]) == ("daily", "etl", 0)
    manifest = read_manifest(samples)["sales"]
    assert document["RowsQuarantined"] > 0 and 0 < document["RowsOut"] < manifest["lines"]
    assert document["RowsIn"] == (
        document["RowsOut"] + document["RowsQuarantined"] + document["DuplicatesRemoved"]
    )
    tables = client("glue").get_tables(DatabaseName="data_lake_db")["TableList"]
    assert "sales_clean" in {t["Name"] for t in tables}
