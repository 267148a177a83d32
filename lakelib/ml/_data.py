"""Reading lake tables for the ML stage: the one edge where data comes in.

Everything else in :mod:`lakelib.ml` takes and returns DataFrames. The events come from the
cataloged ``sales_clean`` table (Parquet, partitioned ``year/month/day``), read with DuckDB
straight from the table's location on the local profile, and through Athena (workgroup
``ml_data``) on the aws profile.
"""

from __future__ import annotations

import logging

import pandas as pd

from lakelib.catalog import TableNotFoundError, open_catalog
from lakelib.config import Settings, get_settings
from lakelib.errors import MlError

log = logging.getLogger(__name__)

SALES_TABLE = "sales_clean"
# sales_clean column -> events column (see lakelib.ml._features); ``date`` is the event time.
EVENT_SOURCE_COLUMNS = {
    "customer_id": "customer_id",
    "date": "ts",
    "amount": "amount",
    "segment": "segment",
    "region": "region",
    "category": "category",
    "signup_date": "signup_date",
}
REQUIRED_SOURCE_COLUMNS = ("customer_id", "date", "amount")


def table_location(table: str, settings: Settings | None = None) -> str:
    """Where a cataloged table's files are."""
    try:
        return open_catalog(settings).get_table(table).location
    except TableNotFoundError:
        raise MlError(
            f"table {table!r} is not in the catalog: run the ETL first (lake etl), then train"
        ) from None


def load_events(settings: Settings | None = None, *, table: str = SALES_TABLE) -> pd.DataFrame:
    """Cleaned sales as the events frame the feature code expects.

    Parameters
    ----------
    settings:
        the lake (default: the current settings).
    table:
        a cataloged table with ``sales_clean``'s columns.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, ts, amount, segment, region, category[, signup_date]``, ``ts`` naive
        UTC, sorted by ``ts``.
    """
    settings = settings or get_settings()
    location = table_location(table, settings)
    if location.startswith("s3://"):
        return _events_from_athena(table, settings)
    import duckdb

    pattern = f"{location.rstrip('/')}/**/*.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        try:
            available = {
                row[0]
                for row in con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true)", [pattern]
                ).fetchall()
            }
        except duckdb.Error as exc:
            raise MlError(f"cannot read {table} at {location}: {exc}") from exc
        missing = [c for c in REQUIRED_SOURCE_COLUMNS if c not in available]
        if missing:
            raise MlError(f"{table} lacks column(s) {', '.join(missing)}")
        select = []
        for source, target in EVENT_SOURCE_COLUMNS.items():
            if source not in available:
                if target != "signup_date":
                    select.append(f"NULL::VARCHAR AS {target}")
                continue
            if target == "ts":
                select.append(f'CAST("{source}" AS TIMESTAMP) AS ts')
            elif target == "amount":
                select.append(f'CAST("{source}" AS DOUBLE) AS amount')
            elif target == "signup_date":
                select.append(f'CAST("{source}" AS DATE) AS signup_date')
            else:
                select.append(f'CAST("{source}" AS VARCHAR) AS {target}')
        sql = (
            f"SELECT {', '.join(select)} FROM read_parquet(?, hive_partitioning = true) "
            "WHERE customer_id IS NOT NULL AND date IS NOT NULL ORDER BY ts"
        )
        frame = con.execute(sql, [pattern]).df()
    finally:
        con.close()
    log.info("read %d events from %s", len(frame), table)
    return frame


def _events_from_athena(table: str, settings: Settings) -> pd.DataFrame:
    """On the aws profile: the same events through Athena, workgroup ``ml_data``."""
    from lakelib.catalog import open_catalog
    from lakelib.query import run_query

    available = {c.name for c in open_catalog(settings).get_table(table).columns}
    missing = [c for c in REQUIRED_SOURCE_COLUMNS if c not in available]
    if missing:
        raise MlError(f"{table} lacks column(s) {', '.join(missing)}")
    casts = {"ts": "timestamp", "amount": "double", "signup_date": "date"}
    select = [
        f'CAST("{source}" AS {casts.get(target, "varchar")}) AS {target}'
        if source in available
        else f"CAST(NULL AS varchar) AS {target}"
        for source, target in EVENT_SOURCE_COLUMNS.items()
        if source in available or target != "signup_date"
    ]
    sql = (
        f"SELECT {', '.join(select)} FROM {table} "
        "WHERE customer_id IS NOT NULL AND date IS NOT NULL ORDER BY ts"
    )
    frame = run_query(sql, workgroup="ml_data", settings=settings).to_pandas()
    log.info("read %d events from %s through Athena", len(frame), table)
    return frame
