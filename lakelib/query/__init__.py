"""The Athena helper: Trino-dialect SQL over the lake, with workgroups, results and costs.

The same SQL text runs on the embedded lake (DuckDB, through sqlglot plus the project's
own Trino fixes, tables from the catalog, partition pruning) and on Athena (awswrangler);
the profile picks the engine once.

>>> from lakelib.query import run_query
>>> result = run_query("SELECT count(*) AS n FROM sales_clean WHERE day = ?",
...                    params=["05"])                                   # doctest: +SKIP
>>> result.df, result.bytes_scanned, result.cost_usd                    # doctest: +SKIP
"""

from lakelib.query._api import (
    QueryEngine,
    cancel_query,
    explain_query,
    open_engine,
    query_history,
    run_query,
)
from lakelib.query._results import (
    CUTOFF_MESSAGE,
    PRICE_PER_TB_USD,
    Explanation,
    QueryRecord,
    QueryResult,
    scan_cost_usd,
)
from lakelib.query._trino import REFUSED, REWRITES, translate

__all__ = [
    "CUTOFF_MESSAGE",
    "PRICE_PER_TB_USD",
    "REFUSED",
    "REWRITES",
    "Explanation",
    "QueryEngine",
    "QueryRecord",
    "QueryResult",
    "cancel_query",
    "explain_query",
    "open_engine",
    "query_history",
    "run_query",
    "scan_cost_usd",
    "translate",
]
