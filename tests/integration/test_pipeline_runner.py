"""The pipeline runner on the local lake: records, retries, resume, alerts, Step Functions."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lakelib.aws import client
from lakelib.config import Zone, load_settings
from lakelib.errors import IngestError, ValidationError
from lakelib.monitor import FAILED, SKIPPED, SUCCEEDED, emf_document, load_run, recent_runs
from lakelib.pipeline._runner import Pipeline, PipelineError, Stage, StageContext, run_pipeline
from lakelib.pipeline._stepfunctions import (
    crawler_task,
    glue_job_task,
    lambda_task,
    to_state_machine,
)
from lakelib.report import AlertLog, SnsAlerts, evaluate, load_rules
from lakelib.storage import zone_store

DAY = dt.date(2026, 3, 1)
RULES = """
[[alerts.rules]]
name = "failed_stage"
metric = "failed_stages"
above = 0
severity = "critical"

[[alerts.rules]]
name = "quarantine_rate"
metric = "quarantine_rate"
above = 0.05
message = "{value:.1%} of records quarantined"
"""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "lake.toml").write_text(RULES)
    return load_settings(cwd=tmp_path, home=tmp_path / "lake", env={})


class Script:
    """Stages whose behaviour a test scripts: fail N times, then return metrics."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures: dict[str, int] = {}
        self.errors: dict[str, Exception] = {}

    def stage(self, name: str, metrics: dict[str, Any], **options: Any) -> Stage:
        def run(ctx: StageContext) -> dict[str, Any]:
            self.calls[name] += 1
            if self.failures.get(name, 0) > 0:
                self.failures[name] -= 1
                raise self.errors.get(name, IngestError(f"{name} broke\nsecond line"))
            return {**metrics, "seen_before": sorted(ctx.results)}

        return Stage(name, run, **options)


def test_a_run_records_every_stage_and_resumes_after_a_failure(settings: Any) -> None:
    script = Script()
    pipeline = Pipeline(
        "daily",
        (
            script.stage("ingest", {"rows": 10, "quarantine_rate": 0.01}),
            script.stage("etl", {"rows_out": 9}, retries=1),
            script.stage("report", {}),
        ),
    )
    script.failures["etl"] = 2  # first attempt and its one retry both fail
    with pytest.raises(PipelineError, match=r"stage etl failed after 2 attempt\(s\): etl broke$"):
        run_pipeline(pipeline, DAY, settings=settings, sleep=lambda s: None)
    runs = zone_store(Zone.RUNS, settings)
    record = load_run(runs, "daily", "2026-03-01")
    assert record is not None and record.status == FAILED
    assert [(s.name, s.status) for s in record.stages] == [("ingest", SUCCEEDED), ("etl", FAILED)]
    assert record.stage("etl").error == "etl broke"
    alerts = AlertLog(runs).recent()
    assert [a.rule for a in alerts] == ["failed_stage"] and alerts[0].severity == "critical"

    # The rerun resumes: ingest is not run again, etl and report are.
    again = run_pipeline(pipeline, DAY, settings=settings, sleep=lambda s: None)
    assert again.status == SUCCEEDED and again.attempts == 2
    assert script.calls == Counter({"ingest": 1, "etl": 3, "report": 1})
    assert again.stage("report").metrics["seen_before"] == ["etl", "ingest"]
    # A third call for the same date has nothing to do.
    run_pipeline(pipeline, DAY, settings=settings)
    assert script.calls["report"] == 1
    assert [r.run_date for r in recent_runs(runs, "daily")] == ["2026-03-01"]


def test_retries_absorb_a_transient_failure_but_not_a_validation_error(settings: Any) -> None:
    script = Script()
    pipeline = Pipeline("p", (script.stage("flaky", {}, retries=2),))
    script.failures["flaky"] = 2
    delays: list[float] = []
    record = run_pipeline(pipeline, DAY, settings=settings, sleep=delays.append, backoff_s=1.5)
    assert record.status == SUCCEEDED and record.stage("flaky").attempts == 3
    assert delays == [1.5, 3.0]

    script = Script()
    pipeline = Pipeline("q", (script.stage("strict", {}, retries=3),))
    script.failures["strict"] = 5
    script.errors["strict"] = ValidationError("bad contract")
    with pytest.raises(PipelineError, match="after 1 attempt"):
        run_pipeline(pipeline, DAY, settings=settings, sleep=lambda s: None)
    assert script.calls["strict"] == 1


def test_a_config_error_the_etl_wraps_is_not_retried(settings: Any) -> None:
    """The ETL reports a ConfigError raised in its Spark batch as ``EtlError(...) from`` it:
    one attempt, no backoff wait, the failure recorded and alerted all the same."""
    from lakelib.errors import ConfigError, EtlError

    calls: list[int] = []

    def etl(ctx: StageContext) -> None:
        calls.append(1)
        try:
            raise ConfigError("[etl] lock_timeout_minutes must be a positive number")
        except ConfigError as exc:  # as lakelib.etl._sales_clean wraps what its run raised
            raise EtlError(f"sales_clean failed: {exc}") from exc

    delays: list[float] = []
    pipeline = Pipeline("daily", (Stage("etl", etl, retries=2),))
    with pytest.raises(PipelineError, match=r"stage etl failed after 1 attempt\(s\): sales_clean"):
        run_pipeline(pipeline, DAY, settings=settings, sleep=delays.append)
    assert (len(calls), delays) == (1, [])
    runs = zone_store(Zone.RUNS, settings)
    record = load_run(runs, "daily", "2026-03-01")
    assert record is not None and record.status == FAILED
    assert (record.stage("etl").attempts, record.stage("etl").error) == (
        1,
        "sales_clean failed: [etl] lock_timeout_minutes must be a positive number",
    )
    assert [a.rule for a in AlertLog(runs).recent()] == ["failed_stage"]

    # A transient error wrapped the same way is still retried; `from None` hides the cause.
    def flaky(ctx: StageContext) -> None:
        calls.append(2)
        try:
            raise ConfigError("looked up while handling")
        except ConfigError:
            raise EtlError("connection reset") from None

    with pytest.raises(PipelineError, match=r"after 3 attempt\(s\): connection reset"):
        run_pipeline(
            Pipeline("q", (Stage("etl", flaky, retries=2),)),
            DAY,
            settings=settings,
            sleep=delays.append,
        )
    assert calls.count(2) == 3


def test_stages_not_due_are_skipped_and_threshold_alerts_fire(settings: Any) -> None:
    script = Script()
    pipeline = Pipeline(
        "daily",
        (
            script.stage("ingest", {"quarantine_rate": 0.08}),
            script.stage("train", {}, due=lambda ctx: ctx.run_date.weekday() == 0),
        ),
    )
    record = run_pipeline(pipeline, DAY, settings=settings)  # 2026-03-01 is a Sunday
    assert record.stage("train").status == SKIPPED and script.calls["train"] == 0
    alerts = AlertLog(zone_store(Zone.RUNS, settings)).recent()
    assert [(a.rule, a.message) for a in alerts] == [
        ("quarantine_rate", "8.0% of records quarantined")
    ]


def test_unexpected_exceptions_are_one_line_with_their_type(settings: Any) -> None:
    def boom(ctx: StageContext) -> None:
        raise KeyError("customer_id")

    with pytest.raises(PipelineError, match="KeyError: 'customer_id'"):
        run_pipeline(Pipeline("p", (Stage("x", boom, retries=0),)), DAY, settings=settings)


def test_alert_rules_are_validated(tmp_path: Path) -> None:
    from lakelib.errors import ConfigError

    (tmp_path / "lake.toml").write_text('[[alerts.rules]]\nname = "x"\nmetric = "m"\n')
    with pytest.raises(ConfigError, match="needs a 'below' or an 'above'"):
        load_rules(load_settings(cwd=tmp_path, env={}))


def test_sns_alerts_reach_a_subscribed_queue(aws: str) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="lake-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    rules = load_rules(load_settings(cwd=Path(__file__).parent, env={}))
    fired = evaluate(rules, {"failed_stages": 1}, run_date="2026-03-01", run_id="r1")
    assert fired, "the repository's lake.toml has a failed_stage rule"
    SnsAlerts(topic).send(fired)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert body["rule"] == "failed_stage" and body["run_id"] == "r1"


def test_emf_document_shape() -> None:
    doc = emf_document({"rows_in": 5, "duration_s": 1.5, "note": "x"}, {"Stage": "etl"})
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "lakelib" and directive["Dimensions"] == [["Stage"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "DurationS": "Seconds",
        "RowsIn": "Count",
    }
    assert doc["RowsIn"] == 5 and doc["Stage"] == "etl" and "Note" not in doc


def test_state_machine_export_is_a_closed_graph() -> None:
    def noop(ctx: StageContext) -> None:
        return None

    pipeline = Pipeline(
        "daily",
        (
            Stage("ingest", noop, retries=2, aws_task=lambda_task("${ingest_function_arn}")),
            Stage("crawl", noop, aws_task=crawler_task("${crawler_raw}")),
            Stage("etl", noop, retries=1, aws_task=glue_job_task("${job_sales_clean}")),
            Stage("curate_crawl", noop, aws_task=crawler_task("${crawler_curated}")),
        ),
    )
    machine = to_state_machine(pipeline)
    states = machine["States"]
    assert machine["StartAt"] == "check_run_date"
    assert states["default_run_date"]["Next"] == "run_context"
    assert states["run_context"]["Next"] == "ingest"  # adds the execution's name
    targets = (
        {s.get("Next") for s in states.values()}
        | {c["Next"] for s in states.values() for c in s.get("Choices", []) + s.get("Catch", [])}
        | {s.get("Default") for s in states.values()}
    )
    assert targets - {None} <= set(states)  # every transition lands on a state
    assert states["ingest"]["Retry"][0]["MaxAttempts"] == 2
    assert states["etl"]["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert states["crawl"]["Next"] == "crawl_wait"
    assert states["crawl_ready"]["Choices"][0]["Next"] == "etl"
    assert states["curate_crawl_ready"]["Choices"][0]["Next"] == "pipeline_succeeded"
    assert states["notify_failure"]["Parameters"]["TopicArn"] == "${alerts_topic_arn}"
    assert all(
        any(c["Next"] == "notify_failure" for c in s.get("Catch", []))
        for s in states.values()
        if s["Type"] == "Task" and s is not states["notify_failure"]
    )


def test_the_daily_export_trains_with_a_sagemaker_training_job() -> None:
    """Item 5 of issue 13: on AWS ``train`` is a SageMaker training job the state machine
    waits for, between the prepare and register steps (SageMaker processing jobs since
    issue 14), skipped when not due."""
    import itertools
    import re

    from lakelib.ml._sagemaker import TRAINING_REQUEST_FIELDS
    from lakelib.pipeline import daily_pipeline, export_state_machine

    text = export_state_machine(daily_pipeline())
    states = json.loads(text)["States"]
    chain = ["curate", "train", "train_plan", "train_due", "train_job", "train_register"]
    for here, there in itertools.pairwise(chain):
        if states[here]["Type"] == "Choice":
            assert states[here]["Choices"][0]["Next"] == there
        else:
            assert states[here]["Next"] == there
    assert states["train_register"]["Next"] == states["train_due"]["Default"] == "transform"
    job = states["train_job"]
    assert job["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    # The role is the stack's, never a plan's.
    assert set(job["Parameters"]) == {
        f if f == "RoleArn" else f"{f}.$" for f in TRAINING_REQUEST_FIELDS
    }
    assert job["Parameters"]["RoleArn"] == "${sagemaker_role_arn}"
    prepare = states["train"]["Parameters"]
    assert states["train"]["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    assert "'--step', 'prepare'" in prepare["AppSpecification"]["ContainerArguments.$"]
    assert prepare["RoleArn"] == "${sagemaker_role_arn}"
    assert states["train_plan"]["Parameters"]["Bucket"] == "${scripts_bucket}"
    assert "jobs/ml/plans/" in states["train_plan"]["Parameters"]["Key.$"]
    register = states["train_register"]["Parameters"]["AppSpecification"]
    assert "'--step', 'register'" in register["ContainerArguments.$"]
    # The only names left for Pulumi to fill are ones it fills (infra/pulumi/README.md).
    placeholders = set(re.findall(r"\$\{([a-z_]+)\}", text))
    assert placeholders == {
        "alerts_topic_arn",
        "crawler_raw",
        "curated_bucket",
        "database",
        "ingest_function_arn",
        "job_curate",
        "job_sales_clean",
        "lake_config_uri",
        "processed_bucket",
        "query_results_bucket",
        "raw_bucket",
        "region",
        "sagemaker_kms_key_arn",
        "sagemaker_processing_image",
        "sagemaker_role_arn",
        "sagemaker_security_group",
        "sagemaker_subnets",
        "scripts_bucket",
    }
    assert all(
        any(c["Next"] == "notify_failure" for c in s.get("Catch", []))
        for s in states.values()
        if s["Type"] == "Task" and s is not states["notify_failure"]
    )


def test_a_stage_with_nothing_to_do_is_skipped_with_its_reason(settings: Any) -> None:
    from lakelib.pipeline._runner import SkipStage

    def no_model(ctx: StageContext) -> None:
        raise SkipStage("no promoted model yet")

    script = Script()
    pipeline = Pipeline("p", (Stage("transform", no_model), script.stage("report", {})))
    record = run_pipeline(pipeline, DAY, settings=settings)
    assert record.status == SUCCEEDED
    assert (record.stage("transform").status, record.stage("transform").error) == (
        SKIPPED,
        "no promoted model yet",
    )
    assert script.calls["report"] == 1
    runs = zone_store(Zone.RUNS, settings)
    assert [info.key for info in runs.list("2026-03-01/")] == ["2026-03-01/p.run.json"]


def test_the_report_stage_job_fires_the_shipped_alert_rules(
    lake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On AWS no runner sees the whole run: the report stage itself checks the config's
    [[alerts.rules]] (from LAKE_CONFIG) against its KPIs and sends what fires."""
    from test_report_data import START, sales_clean

    from lakelib.catalog import crawl
    from lakelib.pipeline import run_stage
    from lakelib.report import AlertLog

    frame = sales_clean(lake_home)
    crawl("processed")
    shipped = tmp_path / "shipped" / "lake.toml"
    shipped.parent.mkdir()
    shipped.write_text(
        "[[alerts.rules]]\n"
        'name = "revenue_floor"\nmetric = "revenue"\nbelow = 1_000_000\nseverity = "warning"\n'
        'message = "revenue {value:.2f} is under the floor"\n'
    )
    monkeypatch.setenv("LAKE_CONFIG", str(shipped))
    settings = load_settings(require_config=True)
    as_of = START + dt.timedelta(days=19)
    metrics = run_stage("report", as_of, settings=settings)
    assert metrics["report"] == 1 and metrics["alerts"] == 1
    (alert,) = AlertLog(zone_store("runs", settings)).recent()
    revenue = frame[frame["event_date"] == as_of]["amount"].sum()
    assert alert.rule == "revenue_floor" and alert.value == pytest.approx(revenue)
    assert alert.message == f"revenue {revenue:.2f} is under the floor"
