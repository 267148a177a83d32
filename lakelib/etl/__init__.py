"""ETL on Spark: raw JSON -> clean, partitioned Parquet -> analytics-ready tables.

The same jobs run in-process on a local Spark session (the embedded default), under
``spark-submit``, as Glue 5 jobs and as EMR steps (``jobs/sales_clean.py``,
``jobs/curate.py``).

>>> from lakelib.etl import run_etl
>>> runs = run_etl()                              # doctest: +SKIP
>>> runs[0].rows_in == runs[0].rows_out + runs[0].rows_quarantined + runs[0].duplicates_removed
True

Transforms are pure DataFrame -> DataFrame functions (:func:`check_contract`,
:func:`deduplicate`, :func:`conform`, :func:`enrich`, :func:`customer_aggregates`,
:func:`daily_sales`, :func:`product_performance`); the jobs read and write at the edges.
"""

from lakelib.etl._aws import EmrEtl, EtlBackend, GlueEtl, RemoteRun, open_backend
from lakelib.etl._curate import customer_aggregates, daily_sales, product_performance
from lakelib.etl._curate_job import run_curate
from lakelib.etl._jobs import ETL_JOBS, EtlJob
from lakelib.etl._run import run_etl, run_etl_remote
from lakelib.etl._sales_clean import EtlRun, SalesCleanConfig, run_sales_clean
from lakelib.etl._session import get_spark
from lakelib.etl._state import Bookmark, list_run_records, read_bookmark, reset_bookmark
from lakelib.etl._transforms import (
    check_contract,
    conform,
    deduplicate,
    enrich,
    latest_snapshot,
    rejected_rows,
    valid_rows,
)

__all__ = [
    "ETL_JOBS",
    "Bookmark",
    "EmrEtl",
    "EtlBackend",
    "EtlJob",
    "EtlRun",
    "GlueEtl",
    "RemoteRun",
    "SalesCleanConfig",
    "check_contract",
    "conform",
    "customer_aggregates",
    "daily_sales",
    "deduplicate",
    "enrich",
    "get_spark",
    "latest_snapshot",
    "list_run_records",
    "open_backend",
    "product_performance",
    "read_bookmark",
    "rejected_rows",
    "reset_bookmark",
    "run_curate",
    "run_etl",
    "run_etl_remote",
    "run_sales_clean",
    "valid_rows",
]
