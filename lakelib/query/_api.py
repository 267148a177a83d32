"""The public face of the query stage: one engine per profile, chosen once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from lakelib.config import Settings, get_settings
from lakelib.query._results import Explanation, QueryRecord, QueryResult


@runtime_checkable
class QueryEngine(Protocol):
    """What both engines do: run, explain, history, cancel.

    :class:`~lakelib.query._local.LocalQueries` (DuckDB over the local lake) and
    :class:`~lakelib.query._athena.AthenaEngine` (Athena) implement it.
    """

    name: str

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
        """Run a query, write its result and record, and return the rows."""
        ...

    def explain(
        self, sql: str, *, database: str, workgroup: str, params: Sequence[Any] | None = None
    ) -> Explanation:
        """What the query would read and cost, without running it."""
        ...

    def history(self, limit: int = 20, workgroup: str | None = None) -> list[QueryRecord]:
        """Recent queries, newest first."""
        ...

    def cancel(self, query_id: str) -> bool:
        """Stop a running query."""
        ...


_engines: dict[tuple[str, str, str], QueryEngine] = {}
_lock = threading.Lock()


def open_engine(settings: Settings | None = None) -> QueryEngine:
    """The engine for the settings' profile (one per lake per process, made on first use).

    The local profile gets DuckDB over the lake's files; the aws profile gets Athena.
    """
    settings = settings or get_settings()
    key = (settings.profile, str(settings.home), str(settings.config_file))
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if settings.is_local:
                from lakelib.query._local import LocalQueries

                engine = LocalQueries(settings)
            else:
                from lakelib.query._athena import AthenaEngine

                engine = AthenaEngine(settings)
            _engines[key] = engine
        elif getattr(engine, "settings", settings) is not settings:
            engine.settings = settings  # type: ignore[attr-defined]
        return engine


def run_query(
    sql: str,
    *,
    database: str | None = None,
    workgroup: str = "primary",
    params: Sequence[Any] | None = None,
    settings: Settings | None = None,
    ctas: bool = False,
) -> QueryResult:
    """Run Trino (Athena) SQL on the lake and return the rows.

    Parameters
    ----------
    sql:
        one Trino SQL query; tables are catalog tables (``sales_clean`` or
        ``data_lake_db.sales_clean``).
    database:
        the catalog database unqualified names resolve in (default: the settings' database,
        ``data_lake_db``).
    workgroup:
        ``primary``, ``analytics``, ``ml_data`` (or any in ``lake.toml``): where the result
        and its record go, and the bytes-scanned cutoff that applies.
    params:
        values for the query's ``?`` placeholders, in order; bound by the engine, never
        pasted into the text.
    settings:
        explicit settings (default: the current ones).
    ctas:
        Athena only: fetch the result through awswrangler's CTAS approach (a temporary
        Parquet table; faster for large results). The local engine ignores it.

    Returns
    -------
    QueryResult
        ``.table`` (a :class:`pyarrow.Table`), ``.to_pandas()`` / ``.df``, and ``.record``
        with the query id, bytes scanned, price and result location. On the local engine
        the rows are streamed to the result CSV; a result of more than ``[query]
        max_result_rows`` rows (lake.toml, default 1,000,000) is only there: ``.table`` and
        ``.df`` then raise :class:`QueryError` naming the file (``.head(n)`` still shows
        the first rows).

    Raises
    ------
    QueryError
        bad SQL (with its position), an unknown table (listing the known ones), a construct
        the local engine does not support (named), the workgroup's cutoff, or a failure.
        The local engine reads only the lake's own folders: DuckDB's file readers
        (``read_csv``, ``read_text``, ``glob``, ``query`` ...), table functions and file
        paths used as tables are refused by name.

    Examples
    --------
    >>> result = run_query(
    ...     "SELECT channel, sum(amount) AS total FROM sales_clean "
    ...     "WHERE year = ? AND month = ? GROUP BY channel", params=["2026", "01"]
    ... )  # doctest: +SKIP
    >>> result.df  # doctest: +SKIP
    """
    settings = settings or get_settings()
    engine = open_engine(settings)
    return engine.run(
        sql,
        database=database or settings.database,
        workgroup=workgroup,
        params=params,
        ctas=ctas,
    )


def explain_query(
    sql: str,
    *,
    database: str | None = None,
    workgroup: str = "primary",
    params: Sequence[Any] | None = None,
    settings: Settings | None = None,
) -> Explanation:
    """What a query would read (partitions, files, bytes), cost and run as, without running it.

    Examples
    --------
    >>> plan = explain_query("SELECT count(*) FROM sales_clean")  # doctest: +SKIP
    >>> print("\\n".join(plan.lines()))  # doctest: +SKIP
    """
    settings = settings or get_settings()
    return open_engine(settings).explain(
        sql, database=database or settings.database, workgroup=workgroup, params=params
    )


def query_history(
    limit: int = 20, *, workgroup: str | None = None, settings: Settings | None = None
) -> list[QueryRecord]:
    """The most recent query records, newest first (optionally of one workgroup)."""
    return open_engine(settings).history(limit, workgroup)


def cancel_query(query_id: str, *, settings: Settings | None = None) -> bool:
    """Cancel a running query; its record ends ``CANCELLED`` and no result is kept."""
    return open_engine(settings).cancel(query_id)
