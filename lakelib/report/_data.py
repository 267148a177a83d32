"""What the report shows, read from the lake: Athena-dialect SQL over the catalog tables,
ingestion run records for data quality, and the model registry.

The same queries run on DuckDB locally and on Athena (workgroup ``analytics``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson
import pandas as pd

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import LakeError
from lakelib.report._render import ReportData

log = logging.getLogger(__name__)

WORKGROUP = "analytics"
TABLE = "sales_clean"

LAST_DAY_SQL = f"SELECT max(event_date) AS last_day FROM {TABLE}"
DAILY_SQL = f"""
SELECT event_date AS date, sum(amount) AS revenue, count(*) AS orders,
       count(DISTINCT customer_id) AS customers
FROM {TABLE}
WHERE event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
GROUP BY event_date
ORDER BY event_date
"""
SEGMENTS_SQL = f"""
SELECT region, category, sum(amount) AS revenue, count(*) AS orders
FROM {TABLE}
WHERE event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
GROUP BY region, category
"""
PRODUCTS_SQL = f"""
SELECT product_id, arbitrary(category) AS category, sum(amount) AS revenue, count(*) AS orders
FROM {TABLE}
WHERE event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
GROUP BY product_id
ORDER BY revenue DESC
LIMIT 20
"""
# The grain every interactive chart, KPI and table of the page is summed from in the browser
# (day x region x category x product), so the filters can drive all of them.
FACTS_SQL = f"""
SELECT event_date AS date, region, category, product_id, sum(amount) AS revenue,
       count(*) AS orders
FROM {TABLE}
WHERE event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
GROUP BY event_date, region, category, product_id
ORDER BY event_date, region, category, product_id
"""
RANGE_SQL = f"SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM {TABLE}"
# Distinct buyers over the 30 days ending on the report day, the day before, a week before.
ACTIVE_SQL = f"""
SELECT
  count(DISTINCT CASE WHEN event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
                      THEN customer_id END) AS today,
  count(DISTINCT CASE WHEN event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
                      THEN customer_id END) AS yesterday,
  count(DISTINCT CASE WHEN event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
                      THEN customer_id END) AS last_week
FROM {TABLE}
WHERE event_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
"""


def _query(sql: str, params: list[Any], settings: Settings) -> pd.DataFrame:
    from lakelib.query import run_query

    return run_query(sql, params=params, workgroup=WORKGROUP, settings=settings).to_pandas()


def _iso(day: dt.date) -> str:
    return day.isoformat()


def last_event_day(settings: Settings | None = None) -> dt.date:
    """The latest event date in ``sales_clean`` (the report's default day)."""
    settings = settings or get_settings()
    value = _query(LAST_DAY_SQL, [], settings)["last_day"].iloc[0]
    if value is None or pd.isna(value):
        raise LakeError(f"{TABLE} is empty: run the ETL first (lake etl)")
    return pd.Timestamp(value).date()


def quality_by_day(settings: Settings, since: dt.date) -> pd.DataFrame:
    """Share of incoming records quarantined at ingestion, per arrival day, from run records."""
    runs = settings.store(Zone.RUNS)
    totals: dict[dt.date, list[int]] = {}
    for info in runs.list("ingest/"):
        if "/runs/" not in info.key or not info.key.endswith(".json"):
            continue
        record = orjson.loads(runs.read_bytes(info.key))
        day = dt.date.fromisoformat(str(record["landed_at"])[:10])
        if day >= since and record.get("read"):
            read_quarantined = totals.setdefault(day, [0, 0])
            read_quarantined[0] += int(record["read"])
            read_quarantined[1] += int(record["quarantined"])
    rows = [
        {
            "date": pd.Timestamp(day),
            "records": read,
            "quarantined": bad,
            "quarantine_rate": bad / read,
        }
        for day, (read, bad) in sorted(totals.items())
    ]
    return pd.DataFrame(rows, columns=["date", "records", "quarantined", "quarantine_rate"])


def _model_summary(settings: Settings) -> dict[str, Any] | None:
    try:
        from lakelib.ml import ModelRegistry

        registry = ModelRegistry(settings=settings)
        version = registry.get()
    except (LakeError, ImportError) as exc:
        log.info("no model for the report: %s", exc)
        return None
    return {"name": version.model, "version": version.version, "metrics": version.metrics}


def _no_data_message(first: dt.date, last: dt.date, settings: Settings) -> str:
    span = _query(RANGE_SQL, [], settings).iloc[0]
    if span["last_day"] is None or pd.isna(span["last_day"]):
        covers = f"{TABLE} is empty: run the ETL first (lake etl)"
    else:
        covers = (
            f"{TABLE} has sales from {pd.Timestamp(span['first_day']).date()} to "
            f"{pd.Timestamp(span['last_day']).date()}"
        )
    return f"no sales between {first} and {last}, so no report: {covers}"


def load_report_data(
    as_of: dt.date | None = None,
    *,
    settings: Settings | None = None,
    window_days: int = 30,
    history_days: int = 60,
) -> ReportData:
    """Query the lake for the report of ``as_of`` (default: the last day with sales).

    Raises
    ------
    LakeError
        when ``sales_clean`` has no sales in the ``window_days`` up to ``as_of`` (a report of
        zeros would look like a business collapse); the message gives the days it covers.
    """
    settings = settings or get_settings()
    day = as_of or last_event_day(settings)
    start = day - dt.timedelta(days=history_days - 1)
    window = day - dt.timedelta(days=window_days - 1)
    daily = _query(DAILY_SQL, [_iso(start), _iso(day)], settings)
    daily["date"] = pd.to_datetime(daily["date"])
    if not (daily["date"] >= pd.Timestamp(window)).any():
        raise LakeError(_no_data_message(window, day, settings))
    facts = _query(FACTS_SQL, [_iso(start), _iso(day)], settings)
    facts["date"] = pd.to_datetime(facts["date"])
    segments = _query(SEGMENTS_SQL, [_iso(window), _iso(day)], settings)
    products = _query(PRODUCTS_SQL, [_iso(window), _iso(day)], settings)
    anchors = [day, day - dt.timedelta(days=1), day - dt.timedelta(days=7)]
    params: list[str] = []
    for anchor in anchors:
        params += [_iso(anchor - dt.timedelta(days=29)), _iso(anchor)]
    params += [_iso(anchors[-1] - dt.timedelta(days=29)), _iso(day)]
    active_row = _query(ACTIVE_SQL, params, settings).iloc[0]
    active = {
        anchor: int(active_row[name])
        for anchor, name in zip(anchors, ("today", "yesterday", "last_week"), strict=True)
    }
    return ReportData(
        as_of=day,
        daily=daily,
        segments=segments,
        products=products,
        quality=quality_by_day(settings, start),
        facts=facts,
        currency=settings.config.report.currency or "USD",
        model=_model_summary(settings),
        active_customers=active,
        window_days=window_days,
        database=settings.database,
        profile=settings.profile,
    )
