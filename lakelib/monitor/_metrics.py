"""Stage metrics: JSON in the lake locally, CloudWatch embedded metric format (EMF) on AWS.

EMF is a JSON log line that CloudWatch turns into metrics without an API call; Lambda, Glue
and SageMaker jobs ship their stdout to CloudWatch Logs, so writing the line is enough. The
line must be the JSON document alone (CloudWatch does not parse a line that a log format has
prefixed with a time and a level), so it is written to stdout, not through ``logging``.

Every stage's metrics carry exactly the dimensions :data:`DIMENSIONS` (``Pipeline``,
``Stage``); the Pulumi program's dashboard widgets and alarms ask for the same ones.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from lakelib.storage import Store

if TYPE_CHECKING:
    from lakelib.config import Settings

NAMESPACE = "lakelib"
# The dimension names of every stage metric, in this order: the pipeline's name (``daily``)
# and the stage's (``etl``, ``curate``, ``ingest``, ...). The dashboard and alarms use them.
DIMENSIONS: tuple[str, str] = ("Pipeline", "Stage")
# The daily run's name (``lakelib.pipeline.PIPELINE``), here so that the ingestion Lambda,
# which bundles no pandas/numpy, can name its pipeline without importing lakelib.pipeline.
DAILY_PIPELINE = "daily"
log = logging.getLogger(__name__)

# CloudWatch units for the metric names stages report.
UNITS = {
    "rows": "Count",
    "rows_in": "Count",
    "rows_out": "Count",
    "rows_quarantined": "Count",
    "duplicates_removed": "Count",
    "files": "Count",
    "bytes": "Bytes",
    "duration_s": "Seconds",
    "failures": "Count",
}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def emf_document(
    metrics: Mapping[str, float], dimensions: Mapping[str, str], namespace: str = NAMESPACE
) -> dict[str, Any]:
    """One EMF document: ``rows_in`` becomes metric ``RowsIn`` with its unit."""
    numeric = {
        _camel(k): v
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    units = {_camel(k): UNITS.get(k, "None") for k in metrics}
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": units[name]} for name in sorted(numeric)],
                }
            ],
        },
        **dict(dimensions),
        **numeric,
    }


class MetricsSink(Protocol):
    def emit(self, metrics: Mapping[str, float], dimensions: Mapping[str, str]) -> None: ...


class LocalMetrics:
    """One JSON document per emission under ``metrics/<date>/`` (never an append in place)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._count = 0

    def emit(self, metrics: Mapping[str, float], dimensions: Mapping[str, str]) -> None:
        stamp = time.strftime("%Y-%m-%d", time.gmtime())
        self._count += 1
        name = "-".join(str(dimensions[k]) for k in sorted(dimensions)) or "metrics"
        key = f"metrics/{stamp}/{time.time_ns()}-{self._count}-{name}.json"
        self.store.write_bytes(key, orjson.dumps({"dimensions": dict(dimensions), **metrics}))


class EmfMetrics:
    """Writes bare EMF lines to stdout (Lambda, Glue and SageMaker ship it to CloudWatch Logs).

    Parameters
    ----------
    namespace:
        the CloudWatch namespace (``[monitoring] metrics_namespace``, default ``lakelib``).
    stream:
        where the lines go; ``sys.stdout`` at the time of each emission when omitted.
    """

    def __init__(self, namespace: str = NAMESPACE, stream: IO[str] | None = None) -> None:
        self.namespace = namespace
        self.stream = stream

    def emit(self, metrics: Mapping[str, float], dimensions: Mapping[str, str]) -> None:
        if tuple(dimensions) != DIMENSIONS:
            raise ValueError(
                f"stage metrics take the dimensions {DIMENSIONS}, not {tuple(dimensions)}"
            )
        line = orjson.dumps(emf_document(metrics, dimensions, self.namespace)).decode()
        stream = self.stream or sys.stdout
        # One write of the whole line, flushed: a line cut by another writer is lost to EMF.
        stream.write(line + "\n")
        stream.flush()


def metrics_namespace(settings: Settings) -> str:
    """``[monitoring] metrics_namespace`` of the workspace config, default ``lakelib``."""
    return settings.config.monitoring.metrics_namespace or NAMESPACE


def emit_stage_metrics(
    metrics: Mapping[str, Any],
    *,
    pipeline: str,
    stage: str,
    settings: Settings | None,
    stream: IO[str] | None = None,
) -> None:
    """Print one stage's metrics as a bare EMF line (what every AWS stage does at its end).

    Non-numeric values are left out of the metrics (they stay in the run record). Without
    settings (a stage that could not load its config still reports its failure) the
    namespace is the default.
    """
    namespace = metrics_namespace(settings) if settings is not None else NAMESPACE
    sink = EmfMetrics(namespace, stream)
    sink.emit(metrics, {DIMENSIONS[0]: pipeline, DIMENSIONS[1]: stage})


def ingest_metrics(summaries: Iterable[Any]) -> dict[str, Any]:
    """The ``ingest`` stage's metrics over its runs' summaries (``IngestSummary``)."""
    totals = {"read": 0, "landed": 0, "quarantined": 0, "files": 0, "bytes": 0}
    for summary in summaries:
        totals["read"] += summary.read
        totals["landed"] += summary.landed
        totals["quarantined"] += summary.quarantined
        totals["files"] += len(summary.files) + len(summary.quarantine_files)
        totals["bytes"] += summary.bytes_written
    rate = totals["quarantined"] / totals["read"] if totals["read"] else 0.0
    return {**totals, "quarantine_rate": round(rate, 6)}
