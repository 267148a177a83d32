"""The ingestion Lambda: on the daily EventBridge schedule, pull the API into the raw zone.

Environment (reference architecture): ``S3_RAW_BUCKET``, ``SOURCE_API_ENDPOINT``,
``LOG_LEVEL``; optionally ``SOURCE_NAME`` (default ``sales``) and the other ``LAKE_*`` bucket
variables. Without a processed / scripts bucket, rejected records and ingestion state go to
``_quarantine/`` and ``_lakelib/`` prefixes of the raw bucket, so the function needs write
access to one bucket only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from lakelib.config import Settings, load_settings
from lakelib.config._layout import raw_bucket_prefix
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
    environment. An API Gateway proxy event (the optional webhook, ``POST /ingest/{source}``)
    lands its body like ``lake serve-ingest`` does and answers with a proxy response.
    Returns the run summary; raises (so Lambda counts an error and the error-rate alarm
    sees it) when the run fails.
    """
    from lakelib.ingest._run import ingest
    from lakelib.sources import redact_url

    event = event or {}
    env = dict(os.environ)
    logging.getLogger("lakelib").setLevel(env.get("LOG_LEVEL", "INFO").upper())
    if "httpMethod" in event or "requestContext" in event:
        return _webhook_request(event, env)
    settings = _settings(env)
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    assert isinstance(detail, Mapping)
    endpoint = detail.get("endpoint") or env.get("SOURCE_API_ENDPOINT")
    source = str(detail.get("source") or env.get("SOURCE_NAME") or "sales")
    if not endpoint:
        raise ConfigError("SOURCE_API_ENDPOINT is not set")
    request_id = getattr(context, "aws_request_id", None)
    log.info("ingest %s from %s (request %s)", source, redact_url(str(endpoint)), request_id)
    summary = ingest(source, str(endpoint), run_date=_run_time(event), settings=settings)
    result = summary.as_dict()
    result["status"] = "ok"
    _emit_metrics(event, summary, settings)
    return result


def _emit_metrics(event: Mapping[str, Any], summary: Any, settings: Settings) -> None:
    """The ``ingest`` stage's metrics as a bare EMF line on stdout (CloudWatch Logs)."""
    from lakelib.monitor import DAILY_PIPELINE, emit_stage_metrics, ingest_metrics

    emit_stage_metrics(
        ingest_metrics([summary]),
        pipeline=str(event.get("pipeline") or DAILY_PIPELINE),
        stage=str(event.get("stage") or "ingest"),
        settings=settings,
    )


def _settings(env: dict[str, str]) -> Settings:
    """The function's settings: the workspace config Pulumi names in ``LAKE_CONFIG`` (its
    ``[sources.*]`` contracts decide what lands), the raw bucket from ``S3_RAW_BUCKET``.

    Without a config the function would land every record unvalidated, so it refuses: a
    ``ConfigError`` naming ``LAKE_CONFIG`` (Lambda counts the error, the alarm sees it).
    """
    bucket = env.get("S3_RAW_BUCKET")
    if not bucket:
        raise ConfigError("S3_RAW_BUCKET is not set")
    if not env.get("LAKE_PROCESSED_BUCKET"):
        env.setdefault(
            "LAKE_QUARANTINE_URI", f"s3://{bucket}/{raw_bucket_prefix('lambda_quarantine')}"
        )
    if not env.get("LAKE_SCRIPTS_BUCKET"):
        env.setdefault("LAKE_RUNS_URI", f"s3://{bucket}/{raw_bucket_prefix('lambda_state')}runs/")
    return load_settings(profile="aws", env=env, require_config=True)


def _webhook_request(event: Mapping[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """API Gateway proxy event (``POST /ingest/{source}``) -> proxy response."""
    from lakelib.ingest._webhook import DEFAULT_MAX_BODY, Rejected, check_request, land_payload

    settings = _settings(env)
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    params = event.get("pathParameters") or {}
    source = str(params.get("source") or str(event.get("path", "")).rstrip("/").split("/")[-1])
    text = event.get("body") or ""
    body = base64.b64decode(text) if event.get("isBase64Encoded") else str(text).encode("utf-8")
    ctype = headers.get("content-type", "")
    try:
        if str(event.get("httpMethod", "POST")).upper() != "POST":
            raise Rejected(HTTPStatus.METHOD_NOT_ALLOWED, "POST records to /ingest/<source>")
        check_request(source, ctype, len(body), settings, DEFAULT_MAX_BODY)
    except Rejected as exc:
        status, answer = exc.status, {"error": exc.message}
    else:
        ip = (event.get("requestContext") or {}).get("identity", {}).get("sourceIp", "api")
        status, answer = land_payload(source, body, ctype, f"webhook:{ip}", settings)
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
