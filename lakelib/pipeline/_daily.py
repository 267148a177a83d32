"""The daily run, defined once: ingest -> crawl -> ETL -> curate -> train (when due) ->
transform -> report -> notebooks.

Locally each stage calls the library in this process; on AWS the same definition is exported
as a Step Functions state machine (the daily run's one orchestrator) whose tasks run the
Lambda, the crawlers and the Glue jobs; ``train`` is a SageMaker training job the state
machine waits for, between the ``prepare`` and ``register`` steps; ``transform`` a SageMaker
batch transform job between ``prepare`` and ``catalog``; those steps, ``report`` and
``notebooks`` (papermill) run as SageMaker processing jobs of ``jobs/pipeline_stage.py``,
which calls :func:`run_stage` (the ``report`` stage there also checks the config's alert
rules, which the local runner checks for the whole run).

Configuration (``lake.toml``)::

    [pipeline]
    train_weekday = "Mon"                 # retrain weekly; also whenever no model is live
    notebooks = ["01_explore", "02_train", "03_deploy", "04_report"]

    [ml.hyperparameters]                  # what the scheduled training job is given
    max-iter = 200

    [pipeline.ingest.sales]               # what the ingest stage lands for a run date
    from = "{home}/samples/sales/sales_{date:%Y%m%d}.jsonl"
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import ConfigError, LakeError
from lakelib.monitor import DAILY_PIPELINE, ingest_metrics
from lakelib.pipeline._runner import Pipeline, SkipStage, Stage, StageContext
from lakelib.pipeline._stepfunctions import (
    crawler_task,
    glue_job_task,
    lambda_task,
    processing_task,
    sagemaker_training_task,
    sagemaker_transform_task,
)
from lakelib.storage import validate_name, zone_store

if TYPE_CHECKING:
    from lakelib.etl._jobs import EtlJob

log = logging.getLogger(__name__)

PIPELINE = DAILY_PIPELINE
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_NOTEBOOKS = ("01_explore", "02_train", "03_deploy", "04_report")
NEEDS_MODEL = ("03_deploy",)
# Notebooks that run on the local profile only (03_deploy serves a local endpoint): the
# scheduled run on AWS (a SageMaker processing job) leaves them out and says so.
LOCAL_ONLY = ("03_deploy",)


def pipeline_settings(settings: Settings) -> Mapping[str, Any]:
    return settings.section("pipeline")


def ingest_locations(settings: Settings, run_date: dt.date) -> dict[str, str]:
    """``{source: location}`` for a run date, from ``[pipeline.ingest.<source>] from``."""
    table = pipeline_settings(settings).get("ingest", {})
    locations = {}
    for source, spec in table.items():
        validate_name(source, "source")
        if not isinstance(spec, Mapping) or "from" not in spec:
            raise ConfigError(f"[pipeline.ingest.{source}] needs a 'from' location")
        try:
            locations[source] = str(spec["from"]).format(
                date=run_date, home=settings.home, root=settings.project_root
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"[pipeline.ingest.{source}] from: bad template ({exc})") from None
    return locations


# -- the stages, locally ------------------------------------------------------------------


def _ingest(ctx: StageContext) -> dict[str, Any]:
    from lakelib.ingest import ingest

    locations = ingest_locations(ctx.settings, ctx.run_date)
    if not locations:
        raise SkipStage("no [pipeline.ingest] sources configured")
    when = dt.datetime.combine(ctx.run_date, dt.time(2, 0), tzinfo=dt.UTC)
    summaries = [
        ingest(source, location, run_date=when, settings=ctx.settings)
        for source, location in locations.items()
    ]
    return ingest_metrics(summaries)


def _crawl(ctx: StageContext) -> dict[str, Any]:
    from lakelib.catalog import crawl

    report = crawl(settings=ctx.settings)
    return {
        "tables": len(report.tables),
        "partitions_added": sum(len(t.partitions_added) for t in report.tables),
        "problems": len(report.problems),
    }


def etl_jobs() -> list[EtlJob]:
    """The registered ETL jobs, in order (imported here: ``lakelib.etl`` is a large import)."""
    from lakelib.etl._jobs import ETL_JOBS

    return list(ETL_JOBS.values())


def _etl(job: EtlJob) -> Stage:
    """The stage running one registered ETL job (a Glue job run on AWS)."""

    def run(ctx: StageContext) -> dict[str, Any]:
        from lakelib.etl import run_etl

        results = run_etl(job.name, settings=ctx.settings)
        if not results:
            raise SkipStage("nothing new since the last run")
        return job.metrics(results[0])

    return Stage(
        job.stage,
        run,
        retries=1,
        aws_task=glue_job_task(job.placeholder),
        description=job.description,
    )


def _train_due(ctx: StageContext) -> bool:
    from lakelib.ml import ModelRegistry

    if ModelRegistry(settings=ctx.settings).promoted_version() is None:
        return True
    weekday = str(pipeline_settings(ctx.settings).get("train_weekday", "Mon"))
    if weekday not in WEEKDAYS:
        raise ConfigError(f"[pipeline] train_weekday must be one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS[ctx.run_date.weekday()] == weekday


def _training_events(ctx: StageContext) -> Any:
    """``sales_clean`` as training events; :class:`SkipStage` when there is too little."""
    from lakelib.ml import load_events, plan_cutoffs

    events = load_events(ctx.settings)
    if events.empty:
        raise SkipStage("sales_clean is empty")
    first, last = events["ts"].min().date(), events["ts"].max().date()
    try:
        plan_cutoffs(first, last)
    except ValueError as exc:
        raise SkipStage(str(exc)) from None
    return events


def _training_metrics(result: Any) -> dict[str, Any]:
    metrics = {k: v for k, v in result.metrics.items() if isinstance(v, int | float)}
    return {**metrics, "promoted": int(result.promoted), "version": result.version.number}


def _train(ctx: StageContext) -> dict[str, Any]:
    from lakelib.ml import train

    result = train(events=_training_events(ctx), settings=ctx.settings)
    return _training_metrics(result)


# -- the train stage on AWS: prepare -> SageMaker training job -> register ------------------
# The state machine runs the training job itself (``sagemaker:createTrainingJob.sync``): a
# stage job that waited for it would pay for idle Glue workers for hours and need rights to
# start jobs. Around it, two steps of the stage job: ``prepare`` (due? data, bundle, the
# request, as the plan ``jobs/ml/plans/<execution>.json``) and ``register`` (the artifact ->
# the model registry, promoted by the same rule as a local run).


def _option(options: Mapping[str, str], name: str) -> str:
    value = options.get(name)
    if not value:
        raise ConfigError(f"the train stage's step needs --{name}")
    return str(value)


def _train_prepare(ctx: StageContext, options: Mapping[str, str]) -> dict[str, Any]:
    import dataclasses
    import tempfile
    import uuid
    from pathlib import Path

    from lakelib.ml import ModelRegistry, prepare_training_data
    from lakelib.ml._sagemaker import SageMakerTrainer, write_training_plan

    execution = _option(options, "execution")
    plan: dict[str, Any] = {"execution": execution, "run_date": ctx.run_date.isoformat()}
    try:
        if not _train_due(ctx):
            raise SkipStage("not due")
        events = _training_events(ctx)
    except SkipStage as skip:
        plan.update(due=False, reason=str(skip))
        write_training_plan(ctx.settings, execution, plan)
        return {"due": 0, "skipped": str(skip)}
    registry = ModelRegistry(settings=ctx.settings)
    stamp = dt.datetime.now(dt.UTC)
    job_name = f"{registry.name}-{stamp:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="lakelib-train-") as tmp:
        data, cutoffs = prepare_training_data(events, Path(tmp))
        request = SageMakerTrainer(ctx.settings).prepare(
            job_name, data, {**_hyperparameters(ctx.settings), "model-name": registry.name}
        )
    plan.update(
        due=True,
        model=registry.name,
        request=request,
        cutoffs=dataclasses.asdict(cutoffs),
        rows={"train": data.manifest["train_rows"], "test": data.manifest["test_rows"]},
    )
    write_training_plan(ctx.settings, execution, plan)
    return {"due": 1, "train_rows": plan["rows"]["train"], "test_rows": plan["rows"]["test"]}


def _hyperparameters(settings: Settings) -> dict[str, Any]:
    """``[ml.hyperparameters]`` of the workspace config (the scheduled run has no CLI)."""
    from lakelib.ml._registry import model_settings

    table = model_settings(settings).get("hyperparameters", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[ml.hyperparameters] must be a table")
    return dict(table)


def _train_register(ctx: StageContext, options: Mapping[str, str]) -> dict[str, Any]:
    from lakelib.ml import ModelRegistry
    from lakelib.ml._features import CutoffPlan
    from lakelib.ml._sagemaker import read_artifact, read_training_plan
    from lakelib.ml._train import register_artifact

    execution = _option(options, "execution")
    plan = read_training_plan(ctx.settings, execution)
    if not plan.get("due"):
        raise LakeError(f"execution {execution} planned no training ({plan.get('reason')})")
    fields = dict(plan["cutoffs"])
    day = dt.date.fromisoformat
    cutoffs = CutoffPlan(
        train=[day(d) for d in fields["train"]],
        test=day(fields["test"]),
        horizon_days=int(fields["horizon_days"]),
        overlap=bool(fields["overlap"]),
        first_day=day(fields["first_day"]),
        last_day=day(fields["last_day"]),
        notes=list(fields.get("notes", [])),
    )
    result = register_artifact(
        ModelRegistry(plan["model"], settings=ctx.settings),
        read_artifact(_option(options, "model_artifact")),
        plan=cutoffs,
        job_name=str(plan["request"]["TrainingJobName"]),
        source="SageMakerTrainer",
        settings=ctx.settings,
    )
    return _training_metrics(result)


def _transform_prepare(ctx: StageContext, options: Mapping[str, str]) -> dict[str, Any]:
    from lakelib.ml._transform import prepare_sagemaker_transform

    plan = prepare_sagemaker_transform(
        _option(options, "execution"), as_of=ctx.run_date + dt.timedelta(days=1),
        settings=ctx.settings,
    )  # fmt: skip
    if not plan.get("due"):
        return {"due": 0, "skipped": str(plan.get("reason"))}
    return {"due": 1, "customers": int(str(plan["rows"]))}


def _transform_catalog(ctx: StageContext, options: Mapping[str, str]) -> dict[str, Any]:
    from lakelib.ml._transform import catalog_sagemaker_transform

    result = catalog_sagemaker_transform(_option(options, "execution"), settings=ctx.settings)
    return {"rows": result.rows, "positive_share": round(result.positive_share, 4)}


# The steps of the stages the state machine splits around a SageMaker job (on AWS).
AWS_STEPS = {
    ("train", "prepare"): _train_prepare,
    ("train", "register"): _train_register,
    ("transform", "prepare"): _transform_prepare,
    ("transform", "catalog"): _transform_catalog,
}


def _transform(ctx: StageContext) -> dict[str, Any]:
    from lakelib.ml import ModelRegistry, batch_transform

    if ModelRegistry(settings=ctx.settings).promoted_version() is None:
        raise SkipStage("no promoted model to score with")
    result = batch_transform(as_of=ctx.run_date + dt.timedelta(days=1), settings=ctx.settings)
    return {"rows": result.rows, "positive_share": round(result.positive_share, 4)}


def _report(ctx: StageContext) -> dict[str, Any]:
    from lakelib.report import kpi_metrics, load_report_data, write_report

    data = load_report_data(ctx.run_date, settings=ctx.settings)
    files = write_report(data, zone_store(Zone.RUNS, ctx.settings), ctx.run_date.isoformat())
    log.info("report written to %s", files.html)
    return {**kpi_metrics(data.kpis()), "report": 1}


def _notebooks(ctx: StageContext) -> dict[str, Any]:
    from lakelib.ml import ModelRegistry
    from lakelib.pipeline._notebooks import run_notebooks

    names = list(pipeline_settings(ctx.settings).get("notebooks", DEFAULT_NOTEBOOKS))
    if ModelRegistry(settings=ctx.settings).promoted_version() is None:
        # Deploying needs a model: with too little data for one, that notebook waits.
        names = [name for name in names if name not in NEEDS_MODEL]
    left_out = [] if ctx.settings.is_local else [n for n in names if n in LOCAL_ONLY]
    if left_out:
        log.info("not run on the %s profile: %s", ctx.settings.profile, ", ".join(left_out))
        names = [name for name in names if name not in left_out]
    # The train stage has already trained (when due): the notebook shows the registry.
    executed = run_notebooks(
        names, ctx.run_date, settings=ctx.settings, parameters={"retrain": False}
    )
    return {"notebooks": len(executed), "notebooks_local_only": len(left_out)}


def daily_pipeline() -> Pipeline:
    """The daily run of the reference architecture (schedule: 02:00 UTC)."""

    return Pipeline(
        PIPELINE,
        (
            Stage(
                "ingest",
                _ingest,
                retries=2,
                aws_task=lambda_task("${ingest_function_arn}", {"time.$": "$.run_date"}),
                description="land the day's source data in the raw zone",
            ),
            Stage(
                "crawl",
                _crawl,
                aws_task=crawler_task("${crawler_raw}"),
                description="catalog new raw partitions",
            ),
            *(_etl(job) for job in etl_jobs()),
            Stage(
                "train",
                _train,
                retries=0,
                due=_train_due,
                aws_task=sagemaker_training_task("train"),
                description="retrain the churn model when due",
            ),
            Stage(
                "transform",
                _transform,
                aws_task=sagemaker_transform_task("transform"),
                description="score customers into curated/predictions",
            ),
            Stage(
                "report",
                _report,
                aws_task=processing_task("report"),
                description="KPIs, charts and alerts",
            ),
            Stage(
                "notebooks",
                _notebooks,
                retries=0,
                aws_task=processing_task("notebooks"),
                description="run the notebooks with papermill into runs/<date>/",
            ),
        ),
        description="lakelib daily pipeline: ingest, crawl, ETL, curate, train, transform, report",
    )


def run_stage(
    name: str,
    run_date: dt.date,
    *,
    settings: Settings | None = None,
    step: str | None = None,
    options: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run one stage of the daily pipeline outside the runner (the AWS stage job's entry).

    Parameters
    ----------
    step, options:
        one step of a stage that the state machine splits around an AWS service (``train``:
        ``prepare`` and ``register``, around the SageMaker training job), with the step's
        arguments (``execution``, ``model_artifact``).
    """
    settings = settings or get_settings()
    if step is not None:
        run = AWS_STEPS.get((name, step))
        if run is None:
            known = ", ".join(f"{n} --step {s}" for n, s in AWS_STEPS)
            raise LakeError(f"no step {step!r} of stage {name!r} (known: {known})")
        return run(StageContext(settings, run_date, f"{run_date}-{name}"), options or {})
    for stage in daily_pipeline().stages:
        if stage.name == name:
            context = StageContext(settings, run_date, f"{run_date}-{name}")
            if stage.due is not None and not stage.due(context):
                return {"skipped": "not due"}
            try:
                metrics = dict(stage.run(context) or {})
            except SkipStage as skip:
                return {"skipped": str(skip)}
            if name == ALERTING_STAGE:
                metrics["alerts"] = len(_fire_alerts(context, metrics))
            return metrics
    known = ", ".join(s.name for s in daily_pipeline().stages)
    raise LakeError(f"no stage {name!r} in the daily pipeline (stages: {known})")


# On AWS no runner sees the whole run: the report stage checks the [[alerts.rules]] of the
# shipped config against its KPIs (failed stages alert through the state machine's Catch).
ALERTING_STAGE = "report"


def _fire_alerts(ctx: StageContext, metrics: Mapping[str, Any]) -> list[Any]:
    from lakelib.report import alert_sinks, evaluate, load_rules

    fired = evaluate(
        load_rules(ctx.settings),
        {**metrics, "failed_stages": 0},
        run_date=ctx.run_date.isoformat(),
        run_id=ctx.run_id,
    )
    for sink in alert_sinks(ctx.settings):
        sink.send(fired)
    for alert in fired:
        log.warning("%s", alert.line())
    return fired


def report_path(settings: Settings, run_date: dt.date) -> str:
    """Where the report of a run date is (a local path or an s3:// URL)."""
    return zone_store(Zone.RUNS, settings).url(f"{run_date.isoformat()}/report.html")
