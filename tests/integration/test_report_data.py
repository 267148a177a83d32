"""The report's numbers, queried from a small lake, equal the same sums done by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakelib.catalog import crawl
from lakelib.report import write_report
from lakelib.report._data import load_report_data
from lakelib.storage import LocalStore

START = dt.date(2026, 1, 1)


def sales_clean(lake: Path) -> pd.DataFrame:
    rows = []
    for offset in range(20):
        day = START + dt.timedelta(days=offset)
        for n in range(offset % 4 + 1):
            rows.append(
                {
                    "id": f"S{offset:02d}{n}",
                    "event_date": day,
                    "amount": 10.0 * (n + 1) + offset,
                    "customer_id": f"C{(offset + n) % 7}",
                    "product_id": f"P{n % 3}",
                    "region": ["north", "south"][n % 2],
                    "category": ["books", "toys", "games"][n % 3],
                    "amount_band": "10-50" if 10.0 * (n + 1) + offset < 50 else "50-100",
                }
            )
    frame = pd.DataFrame(rows)
    for day, part in frame.groupby("event_date"):
        folder = (
            lake
            / "processed"
            / "sales_clean"
            / f"year={day:%Y}"
            / f"month={day:%m}"
            / f"day={day:%d}"
        )
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / "part-0.parquet")
    return frame


def test_report_numbers_match_hand_computed_ones(lake_home: Path) -> None:
    frame = sales_clean(lake_home)
    crawl("processed")
    as_of = START + dt.timedelta(days=19)
    data = load_report_data(settings=None, window_days=7)
    assert data.as_of == as_of  # the last day with sales

    daily = frame.groupby("event_date").agg(revenue=("amount", "sum"), orders=("id", "count"))
    assert list(data.daily["revenue"]) == pytest.approx(list(daily["revenue"]))
    assert list(data.daily["orders"]) == list(daily["orders"])

    window = frame[frame["event_date"] > as_of - dt.timedelta(days=7)]
    by_segment = window.groupby(["region", "category"])["amount"].sum()
    got = data.segments.set_index(["region", "category"])["revenue"]
    assert got.sort_index().to_dict() == pytest.approx(by_segment.sort_index().to_dict())
    top = window.groupby("product_id")["amount"].sum().sort_values(ascending=False)
    assert list(data.products["product_id"]) == list(top.index)

    def active(anchor: dt.date) -> int:
        recent = frame[
            (frame["event_date"] > anchor - dt.timedelta(days=30)) & (frame["event_date"] <= anchor)
        ]
        return recent["customer_id"].nunique()

    assert data.active_customers == {
        as_of: active(as_of),
        as_of - dt.timedelta(days=1): active(as_of - dt.timedelta(days=1)),
        as_of - dt.timedelta(days=7): active(as_of - dt.timedelta(days=7)),
    }
    kpis = {k.name: k for k in data.kpis()}
    assert kpis["revenue"].value == pytest.approx(daily.loc[as_of, "revenue"])
    assert kpis["revenue"].previous_day == pytest.approx(
        daily.loc[as_of - dt.timedelta(days=1), "revenue"]
    )
    assert data.model is None  # no model trained in this lake

    files = write_report(data, LocalStore(lake_home / "runs"), as_of.isoformat())
    html = (lake_home / "runs" / files.html).read_text()
    assert f"{daily.loc[as_of, 'revenue']:,.2f}" in html


def test_lake_report_writes_the_page_and_fires_alerts(
    lake_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelib.cli import main

    frame = sales_clean(lake_home)
    crawl("processed")
    monkeypatch.setenv("COLUMNS", "200")
    day = dt.date(2026, 1, 17)  # revenue falls from 160 (4 sales) to 26 (1 sale): -84 %
    daily = frame.groupby("event_date")["amount"].sum()
    change = daily[day] / daily[day - dt.timedelta(days=1)] - 1
    assert change < -0.2
    assert main(["report", "--date", day.isoformat()]) == 0
    printed = capsys.readouterr().out
    assert f"{change:+.1%}" in printed
    assert "alert [warning] revenue_drop:" in printed
    assert f"report: {lake_home / 'runs' / '2026-01-17' / 'report.html'}" in printed
    html = (lake_home / "runs" / "2026-01-17" / "report.html").read_text()
    assert "revenue_drop" in html
    alerts = list((lake_home / "runs" / "alerts" / "2026-01-17").glob("*-revenue_drop.json"))
    assert len(alerts) == 1


def test_a_report_for_a_day_without_sales_is_a_one_line_error(lake_home: Path) -> None:
    import subprocess
    import sys

    sales_clean(lake_home)
    crawl("processed")
    done = subprocess.run(
        [sys.executable, "-m", "lakelib", "report", "--date", "2030-01-01"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "lake: error: no sales between 2029-12-03 and 2030-01-01, so no report: sales_clean "
        "has sales from 2026-01-01 to 2026-01-20\n"
    )
    assert not (lake_home / "runs" / "2030-01-01").exists()  # no page of zeros written


def test_the_page_filters_from_the_lake_numbers(lake_home: Path) -> None:
    """The page's data holds the fine grain: south's revenue in the window, summed by hand."""
    import json
    import re

    frame = sales_clean(lake_home)
    crawl("processed")
    data = load_report_data(settings=None, window_days=7)
    files = write_report(data, LocalStore(lake_home / "runs"), data.as_of.isoformat())
    html = (lake_home / "runs" / files.html).read_text()
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert found is not None
    page = json.loads(found.group(1))
    south = page["regions"].index("south")
    got = sum(r[4] for r in page["rows"] if r[1] == south)
    assert got == pytest.approx(frame.loc[frame["region"] == "south", "amount"].sum())
    assert page["asOf"] == "2026-01-20" and page["windowDays"] == 7
