"""The ingestion Lambda: on the daily EventBridge schedule, pull the API into the raw zone.

Environment (reference architecture): ``S3_RAW_BUCKET``, ``SOURCE_API_ENDPOINT``,
``LOG_LEVEL``; optionally ``SOURCE_NAME`` (default ``sales``) and the other ``LAKE_*`` bucket
variables. Without a processed / scripts bucket, rejected records and ingestion state go to
``_quarantine/`` and ``_lakelib/`` prefixes of the raw bucket, so the function needs write
access to one bucket only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lakelib.config import load_settings
from lakelib.errors import ConfigError

log = logging.getLogger("lakelib.ingest.lambda")


def _run_time(event: Mapping[str, Any]) -> datetime | None:
    """EventBridge puts the scheduled time in ``time``; the raw files are named after it."""
    stamp = event.get("time")
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC)
    except ValueError:
        log.warning("ignoring unparseable event time %r", stamp)
        return None


def handler(event: Mapping[str, Any] | None, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: ``lakelib.ingest.handler``.

    Accepts an EventBridge scheduled event (``detail-type: Scheduled Event``) or a direct
    invocation; ``event["detail"]`` may carry ``source`` and ``endpoint`` to override the
    environment. Returns the run summary; raises (so Lambda counts an error and the
    error-rate alarm sees it) when the run fails.
    """
    from lakelib.ingest._run import ingest

    event = event or {}
    env = dict(os.environ)
    logging.getLogger("lakelib").setLevel(env.get("LOG_LEVEL", "INFO").upper())
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    assert isinstance(detail, Mapping)
    bucket = env.get("S3_RAW_BUCKET")
    endpoint = detail.get("endpoint") or env.get("SOURCE_API_ENDPOINT")
    source = str(detail.get("source") or env.get("SOURCE_NAME") or "sales")
    if not bucket:
        raise ConfigError("S3_RAW_BUCKET is not set")
    if not endpoint:
        raise ConfigError("SOURCE_API_ENDPOINT is not set")
    if not env.get("LAKE_PROCESSED_BUCKET"):
        env.setdefault("LAKE_QUARANTINE_URI", f"s3://{bucket}/_quarantine/")
    if not env.get("LAKE_SCRIPTS_BUCKET"):
        env.setdefault("LAKE_RUNS_URI", f"s3://{bucket}/_lakelib/runs/")
    settings = load_settings(profile="aws", env=env)
    request_id = getattr(context, "aws_request_id", None)
    log.info("ingest %s from %s (request %s)", source, endpoint, request_id)
    summary = ingest(source, str(endpoint), run_date=_run_time(event), settings=settings)
    result = summary.as_dict()
    result["status"] = "ok"
    return result
