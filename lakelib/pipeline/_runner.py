"""Running a pipeline: stages in order, retries, a record per run, resume, alerts.

A run for a date keeps one record in the lake (``runs/<date>/<pipeline>.run.json``). A
rerun of the same date resumes: stages that succeeded are not run again, the failed one and
those after it are. A run that fails stops at the failing stage with a one-line reason,
records it, and fires the ``failed_stages`` alert.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lakelib._stamps import short_tag, utc_now
from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import ConfigError, LakeError, ValidationError
from lakelib.monitor import (
    DIMENSIONS,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    EmfMetrics,
    LocalMetrics,
    MetricsSink,
    RunRecord,
    StageRecord,
    load_run,
    metrics_namespace,
)
from lakelib.report import Alert, alert_sinks, evaluate, load_rules
from lakelib.storage import Store

log = logging.getLogger(__name__)

# Errors that another attempt cannot fix: wrong settings or input that breaks a contract.
NOT_RETRIED: tuple[type[Exception], ...] = (ConfigError, ValidationError)


def retryable(exc: BaseException) -> bool:
    """Whether another attempt might succeed: not when ``exc`` or any error it was raised
    from is in :data:`NOT_RETRIED`.

    The chain matters because stages wrap what they call: the ETL reports a ConfigError
    raised inside its Spark batch as ``EtlError(...) from ConfigError(...)``, and retrying
    that only repeats the same wrong settings (and the wait) before failing anyway.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, NOT_RETRIED):
            return False
        seen.add(id(link))
        # Python's own rule for what a traceback shows: the explicit cause, else the error
        # being handled when this one was raised, unless ``from None`` hid it.
        if link.__cause__ is not None:
            link = link.__cause__
        else:
            link = None if link.__suppress_context__ else link.__context__
    return True


class PipelineError(LakeError):
    """A stage failed after its retries; the run record says which and why."""


class SkipStage(Exception):
    """Raised by a stage that finds nothing to do (too little data, no model): recorded as
    skipped with the reason, and the run goes on."""


@dataclass
class StageContext:
    """What a stage gets: settings, the run's date and id, and earlier stages' metrics."""

    settings: Settings
    run_date: dt.date
    run_id: str
    results: dict[str, Mapping[str, Any]] = field(default_factory=dict)


StageFn = Callable[[StageContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline.

    Parameters
    ----------
    name:
        stage name (``[a-z0-9_]+``), also its state name in Step Functions.
    run:
        does the work locally and returns metrics (rows, bytes, ...) for the run record.
    retries:
        attempts after the first, with backoff, for errors other than config/validation
        (:data:`NOT_RETRIED`, also when a stage wraps one: see :func:`retryable`).
    due:
        when given and false for a run, the stage is skipped (e.g. weekly training).
    aws_task:
        the Step Functions ``Task`` fields (``Resource``, ``Parameters``) that run it on AWS.
    """

    name: str
    run: StageFn
    retries: int = 1
    due: Callable[[StageContext], bool] | None = None
    aws_task: Mapping[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple[Stage, ...]
    description: str = ""

    def __post_init__(self) -> None:
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ConfigError(f"pipeline {self.name}: stage names repeat: {names}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return message if isinstance(exc, LakeError) else f"{type(exc).__name__}: {message}"


def _metrics_sink(settings: Settings) -> MetricsSink:
    if settings.is_local:
        return LocalMetrics(settings.store(Zone.RUNS))
    return EmfMetrics(metrics_namespace(settings))


def flatten_metrics(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{"etl": {"rows_out": 5}}`` -> ``{"etl.rows_out": 5, "rows_out": 5}`` (later wins)."""
    flat: dict[str, Any] = {}
    for stage, metrics in results.items():
        for name, value in metrics.items():
            flat[f"{stage}.{name}"] = value
            flat[name] = value
    return flat


def run_pipeline(
    pipeline: Pipeline,
    run_date: dt.date,
    *,
    settings: Settings | None = None,
    force: bool = False,
    backoff_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    on_stage: Callable[[str, str], None] | None = None,
) -> RunRecord:
    """Run ``pipeline`` for ``run_date``, resuming a previous run of the same date.

    Parameters
    ----------
    force:
        run every stage again, even those a previous run of this date finished.
    on_stage:
        called with ``(stage, state)`` as stages start and end (progress display).

    Raises
    ------
    PipelineError
        when a stage fails after its retries (the record and an alert say so).
    """
    settings = settings or get_settings()
    runs = settings.store(Zone.RUNS)
    notify = on_stage or (lambda stage, state: log.info("%s: %s", stage, state))
    day = run_date.isoformat()
    record = _resumed_record(runs, pipeline.name, day, force)
    if record.status == SUCCEEDED:
        log.info("%s for %s already succeeded; nothing to do", pipeline.name, day)
        return record
    context = StageContext(settings, run_date, record.run_id)
    for stage_record in record.stages:
        if stage_record.status == SUCCEEDED:
            context.results[stage_record.name] = stage_record.metrics
    metrics_sink = _metrics_sink(settings)
    rules = load_rules(settings)
    sinks = alert_sinks(settings)
    record.save(runs)

    for stage in pipeline.stages:
        stage_record = record.stage(stage.name)
        if stage_record.status in (SUCCEEDED, SKIPPED) and not force:
            notify(stage.name, f"done earlier ({stage_record.status})")
            continue
        if stage.due is not None and not stage.due(context):
            stage_record.status, stage_record.error = SKIPPED, "not due"
            record.save(runs)
            notify(stage.name, "skipped: not due")
            continue
        attempt = _Attempts(stage, stage_record, context, lambda: record.save(runs), notify)
        error = attempt.run(backoff_s, sleep)
        stage_record.finished_at = utc_now()
        if stage_record.status == SKIPPED:
            record.save(runs)
            notify(stage.name, f"skipped: {stage_record.error}")
            continue
        dimensions = dict(zip(DIMENSIONS, (pipeline.name, stage.name), strict=True))
        outcome = {"duration_s": stage_record.duration_s, "failures": 0 if error is None else 1}
        metrics_sink.emit({**context.results.get(stage.name, {}), **outcome}, dimensions)
        if error is not None:
            stage_record.status, stage_record.error = FAILED, error
            record.status, record.finished_at = FAILED, utc_now()
            record.save(runs)
            notify(stage.name, f"failed: {error}")
            _alert(rules, sinks, {**flatten_metrics(context.results), "failed_stages": 1}, record)
            raise PipelineError(
                f"{pipeline.name} {day}: stage {stage.name} failed after "
                f"{stage_record.attempts} attempt(s): {error}"
            )
        stage_record.status = SUCCEEDED
        record.save(runs)
        notify(stage.name, "succeeded")

    record.status, record.finished_at = SUCCEEDED, utc_now()
    record.save(runs)
    _alert(rules, sinks, {**flatten_metrics(context.results), "failed_stages": 0}, record)
    return record


def _resumed_record(runs: Store, pipeline: str, day: str, force: bool) -> RunRecord:
    """The date's earlier record, marked as a new attempt (``force``: a fresh record).

    A record that already succeeded is returned as it is: there is nothing to run.
    """
    record = None if force else load_run(runs, pipeline, day)
    if record is None:
        return RunRecord(pipeline, day, f"{day}-{short_tag()}")
    if record.status != SUCCEEDED:
        record.attempts += 1
        record.status, record.finished_at = RUNNING, None
    return record


@dataclass
class _Attempts:
    """One stage's attempts: run it, retry what :func:`retryable` allows, record each try."""

    stage: Stage
    stage_record: StageRecord
    context: StageContext
    save: Callable[[], None]
    notify: Callable[[str, str], None]

    def run(self, backoff_s: float, sleep: Callable[[float], None]) -> str | None:
        """Run until it succeeds, skips or fails for good; returns the failure, if any."""
        stage, stage_record = self.stage, self.stage_record
        error: str | None = None
        for attempt in range(1, stage.retries + 2):
            stage_record.attempts += 1
            stage_record.status, stage_record.started_at = RUNNING, utc_now()
            stage_record.finished_at, stage_record.error = None, None
            self.save()
            self.notify(stage.name, "running" if attempt == 1 else f"retry {attempt - 1}")
            started = time.perf_counter()
            try:
                metrics = dict(stage.run(self.context) or {})
            except SkipStage as skip:
                stage_record.duration_s = round(time.perf_counter() - started, 3)
                stage_record.status, stage_record.error = SKIPPED, str(skip)
                return None
            except Exception as exc:
                error = _one_line(exc)
                log.debug("stage %s failed", stage.name, exc_info=True)
                stage_record.duration_s = round(time.perf_counter() - started, 3)
                if attempt <= stage.retries and retryable(exc):
                    log.warning("%s failed (%s); retrying", stage.name, error)
                    sleep(backoff_s * attempt)
                    continue
                return error
            stage_record.duration_s = round(time.perf_counter() - started, 3)
            stage_record.metrics = metrics
            self.context.results[stage.name] = metrics
            return None
        return error


def _alert(rules: Any, sinks: Any, metrics: Mapping[str, Any], record: RunRecord) -> list[Alert]:
    fired = evaluate(rules, metrics, run_date=record.run_date, run_id=record.run_id)
    for sink in sinks:
        sink.send(fired)
    for alert in fired:
        log.warning("%s", alert.line())
    return fired
