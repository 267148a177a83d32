"""Stage metrics: JSON in the lake locally, CloudWatch embedded metric format (EMF) on AWS.

EMF is a JSON log line that CloudWatch turns into metrics without an API call; Lambda, Glue
and SageMaker jobs ship their stdout to CloudWatch Logs, so printing the line is enough.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from lakelib.storage import Store

NAMESPACE = "lakelib"
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
                    "Dimensions": [sorted(dimensions)],
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
    """Writes EMF lines to a logger (stdout in Lambda/Glue, which CloudWatch Logs ingests)."""

    def __init__(self, logger: logging.Logger | None = None, namespace: str = NAMESPACE) -> None:
        self.logger = logger or logging.getLogger("lakelib.metrics")
        self.namespace = namespace

    def emit(self, metrics: Mapping[str, float], dimensions: Mapping[str, str]) -> None:
        line = orjson.dumps(emf_document(metrics, dimensions, self.namespace)).decode()
        self.logger.info("%s", line)
