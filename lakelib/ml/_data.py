"""Reading lake tables for the ML stage: the one edge where data comes in.

Everything else in :mod:`lakelib.ml` takes and returns DataFrames. The events come from the
cataloged ``sales_clean`` table (Parquet, partitioned ``year/month/day``), read with DuckDB
straight from the table's location on the local profile.
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
        # The aws profile reads through Athena (workgroup ml_data) once lakelib.query is in.
        raise MlError(
            f"reading {table} from S3 for training runs as a SageMaker job; locally the "
            "ML stage reads the local lake"
        )
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
