"""The AWS engine: Athena through awswrangler, results in the workgroup's result location.

Athena runs the Trino SQL itself, writes ``<location>/<workgroup>/<query_id>.csv`` and its
metadata, enforces the workgroup's bytes-scanned cutoff and bills the scan; this module
submits, polls and reads the result, and builds the same :class:`QueryRecord` the local
engine writes. ``?`` parameters go as Athena ``ExecutionParameters`` (each value rendered as
the SQL literal Athena expects), never pasted into the text. ``ctas=True`` uses
awswrangler's CTAS approach (results through a temporary Parquet table; faster for big
results, needs ``CREATE TABLE`` rights in the database).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

from lakelib.config import Settings, Zone
from lakelib.errors import QueryError
from lakelib.query._results import (
    Explanation,
    QueryRecord,
    QueryResult,
    scan_cost_usd,
    utc_now,
)

log = logging.getLogger(__name__)


def athena_literal(value: Any) -> str:
    """A Python value as the SQL literal Athena's ``ExecutionParameters`` expects.

    >>> athena_literal("O'Brien"), athena_literal(5), athena_literal(dt.date(2024, 1, 2))
    ("'O''Brien'", '5', "DATE '2024-01-02'")
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return f"DECIMAL '{value}'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise QueryError(f"cannot pass a {type(value).__name__} as a query parameter")


class AthenaEngine:
    """Trino SQL on Amazon Athena."""

    name = "athena"

    def __init__(self, settings: Settings, session: Any = None) -> None:
        self.settings = settings
        self._session = session

    def _wrangler(self) -> Any:
        import awswrangler as wr  # deferred: heavy, and only the aws profile needs it

        endpoint = os.environ.get("LAKE_AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            for service in ("athena", "s3", "glue", "sts"):
                setattr(wr.config, f"{service}_endpoint_url", endpoint)
        return wr

    @property
    def session(self) -> Any:
        if self._session is None:
            import boto3

            region = (
                self.settings.region
                or os.environ.get("AWS_REGION")
                or os.environ.get("AWS_DEFAULT_REGION")
                or "us-east-1"
            )
            self._session = boto3.Session(region_name=region)
        return self._session

    def output_location(self, workgroup: str) -> str:
        return f"{self.settings.zone_uri(Zone.QUERY_RESULTS).rstrip('/')}/{workgroup}/"

    def explain(
        self, sql: str, *, database: str, workgroup: str, params: Sequence[Any] | None = None
    ) -> Explanation:
        raise QueryError(
            "--explain estimates scans on the local engine only; Athena reports the bytes "
            "scanned after a run (see lake query --history)"
        )

    def run(
        self,
        sql: str,
        *,
        database: str,
        workgroup: str,
        params: Sequence[Any] | None = None,
        query_id: str | None = None,
        ctas: bool = False,
    ) -> QueryResult:
        wr = self._wrangler()
        group = self.settings.workgroup(workgroup)
        values = [athena_literal(v) for v in params or []] or None
        submitted = utc_now()
        try:
            if ctas:
                frame = wr.athena.read_sql_query(
                    sql,
                    database=database,
                    ctas_approach=True,
                    workgroup=group.name,
                    s3_output=self.output_location(group.name),
                    params=values,
                    paramstyle="qmark",
                    boto3_session=self.session,
                )
                query_id = frame.query_metadata["QueryExecutionId"]
                execution = frame.query_metadata
            else:
                query_id = wr.athena.start_query_execution(
                    sql,
                    database=database,
                    s3_output=self.output_location(group.name),
                    workgroup=group.name,
                    params=values,
                    paramstyle="qmark",
                    boto3_session=self.session,
                    wait=False,
                )
                execution = wr.athena.wait_query(query_id, boto3_session=self.session)
                frame = wr.athena.get_query_results(query_id, boto3_session=self.session)
        except wr.exceptions.QueryFailed as exc:
            raise QueryError(f"Athena query failed: {exc}") from exc
        except wr.exceptions.QueryCancelled as exc:
            raise QueryError(f"Athena query was cancelled: {exc}") from exc
        except Exception as exc:  # botocore ClientError and friends
            if type(exc).__module__.startswith(("botocore", "awswrangler")):
                raise QueryError(f"Athena: {exc}") from exc
            raise
        record = record_from_execution(execution, fallback_sql=sql, engine=self.name)
        record.submitted_at = record.submitted_at or submitted
        record.params = list(params or [])
        record.rows = len(frame)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return QueryResult(table, record)

    def cancel(self, query_id: str) -> bool:
        from lakelib.aws import client

        client("athena", session=self.session).stop_query_execution(QueryExecutionId=query_id)
        return True

    def history(self, limit: int = 20, workgroup: str | None = None) -> list[QueryRecord]:
        from lakelib.aws import client

        athena = client("athena", session=self.session)
        groups = [workgroup] if workgroup else list(self.settings.workgroups)
        records: list[QueryRecord] = []
        for group in groups:
            ids = athena.list_query_executions(WorkGroup=group, MaxResults=min(limit, 50)).get(
                "QueryExecutionIds", []
            )
            if not ids:
                continue
            records += [
                record_from_execution(
                    athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"],
                    fallback_sql="",
                    engine=self.name,
                )
                for qid in ids[:limit]
            ]
        records.sort(key=lambda r: r.submitted_at, reverse=True)
        return records[:limit]


def record_from_execution(
    execution: dict[str, Any], *, fallback_sql: str, engine: str
) -> QueryRecord:
    """Athena's ``QueryExecution`` as a :class:`QueryRecord`."""
    status = execution.get("Status", {})
    stats = execution.get("Statistics", {})
    submitted = status.get("SubmissionDateTime")
    completed = status.get("CompletionDateTime")
    scanned = int(stats.get("DataScannedInBytes") or 0)
    state = str(status.get("State", "UNKNOWN"))
    return QueryRecord(
        query_id=str(execution.get("QueryExecutionId", "")),
        workgroup=str(execution.get("WorkGroup", "")),
        database=str(execution.get("QueryExecutionContext", {}).get("Database", "")),
        engine=engine,
        sql=str(execution.get("Query") or fallback_sql),
        state=state,
        state_reason=str(status.get("StateChangeReason", "")),
        submitted_at=submitted.isoformat() if hasattr(submitted, "isoformat") else "",
        completed_at=completed.isoformat() if hasattr(completed, "isoformat") else "",
        planning_ms=float(stats.get("QueryPlanningTimeInMillis") or 0),
        execution_ms=float(stats.get("EngineExecutionTimeInMillis") or 0),
        total_ms=float(stats.get("TotalExecutionTimeInMillis") or 0),
        bytes_scanned=scanned,
        cost_usd=scan_cost_usd(scanned) if state in {"SUCCEEDED", "CANCELLED"} else 0.0,
        output_location=str(execution.get("ResultConfiguration", {}).get("OutputLocation", "")),
    )
