"""KPIs by hand, and the HTML report rendered by a real headless browser."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from lakelib.report import Alert, ReportData, compute_kpis, kpi_metrics, write_report
from lakelib.storage import LocalStore

AS_OF = dt.date(2026, 2, 28)


def daily_frame() -> pd.DataFrame:
    days = pd.date_range("2026-02-01", "2026-02-28", freq="D")
    revenue = [1000.0] * len(days)
    orders = [10] * len(days)
    revenue[-1], orders[-1] = 750.0, 5  # the report day
    revenue[-2], orders[-2] = 1500.0, 12  # the day before
    revenue[-8], orders[-8] = 600.0, 4  # a week before
    return pd.DataFrame({"date": days, "revenue": revenue, "orders": orders})


def test_kpis_and_their_changes() -> None:
    active = {AS_OF: 90, AS_OF - dt.timedelta(days=1): 100, AS_OF - dt.timedelta(days=7): 60}
    kpis = {k.name: k for k in compute_kpis(daily_frame(), AS_OF, active)}
    assert kpis["revenue"].value == 750.0
    assert kpis["revenue"].change_dod == pytest.approx(-0.5)  # 750 vs 1500
    assert kpis["revenue"].change_wow == pytest.approx(0.25)  # 750 vs 600
    assert kpis["orders"].change_dod == pytest.approx(5 / 12 - 1)
    assert kpis["average_order_value"].value == pytest.approx(150.0)
    assert kpis["average_order_value"].previous_day == pytest.approx(125.0)
    assert kpis["active_customers"].change_dod == pytest.approx(-0.1)
    metrics = kpi_metrics(list(kpis.values()))
    assert metrics["revenue_change_dod"] == pytest.approx(-0.5)


def test_a_day_without_sales_is_zero_and_changes_without_a_base_are_unknown() -> None:
    kpis = {k.name: k for k in compute_kpis(daily_frame(), dt.date(2026, 3, 10))}
    assert kpis["revenue"].value == 0.0
    assert kpis["revenue"].change_dod is None and kpis["revenue"].previous_day is None


def report_data() -> ReportData:
    segments = pd.DataFrame(
        {
            "region": ["north", "north", "south"],
            "category": ["books", "toys", "books"],
            "revenue": [500.0, 250.5, 120.0],
            "orders": [5, 3, 1],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": ["P1", "P2"],
            "category": ["books", "toys"],
            "revenue": [300.0, 200.0],
            "orders": [3, 2],
        }
    )
    quality = pd.DataFrame(
        {"date": pd.date_range("2026-02-26", periods=3), "quarantine_rate": [0.01, 0.02, 0.015]}
    )
    alert = Alert(
        "revenue_drop",
        "warning",
        "revenue_change_dod",
        -0.5,
        "revenue changed -50%",
        "2026-02-28",
        "r1",
    )
    return ReportData(
        AS_OF,
        daily_frame(),
        segments,
        products,
        quality=quality,
        model={
            "name": "churn",
            "version": 3,
            "metrics": {"roc_auc": 0.81, "pr_auc": 0.9, "baseline_prior_roc_auc": 0.5},
        },
        alerts=[alert],
    )


def test_report_files_are_self_contained(tmp_path: Path) -> None:
    files = write_report(report_data(), LocalStore(tmp_path), "2026-02-28")
    html = (tmp_path / files.html).read_text()
    assert "<script src" not in html and "<link" not in html  # nothing fetched from elsewhere
    assert html.count('src="data:image/png;base64,') == 6
    assert "750.00" in html and "-50.0%" in html and "+25.0%" in html
    assert "revenue_drop: revenue changed -50%" in html
    assert "ROC AUC 0.810; prior baseline 0.500." in html
    assert "In [" not in html and "def " not in html  # no code cells
    extracts = sorted(Path(k).name for k in files.extracts)
    assert extracts == ["daily.csv", "kpis.csv", "products.csv", "quality.csv", "segments.csv"]
    segments = pd.read_csv(tmp_path / "2026-02-28" / "extracts" / "segments.csv")
    assert segments["revenue"].sum() == pytest.approx(870.5)


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    if BROWSER is None:
        pytest.fail("chromium is required: make test installs it (see .ci/run / Makefile)")
    files = write_report(report_data(), LocalStore(tmp_path), "r")
    page = (tmp_path / files.html).resolve().as_uri()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [BROWSER, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120
    ).stdout
    assert dom.count('class="kpi"') == 3
    assert dom.count("<img") == 6 and 'data-region="south"' in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [BROWSER, *flags, f"--screenshot={shot}", "--window-size=1200,2400", page],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
