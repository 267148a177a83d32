"""KPIs by hand, and the HTML report rendered and driven in a real headless browser."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def facts_frame() -> pd.DataFrame:
    """The daily totals split 60/40 between north (books, P1) and south (toys, P2)."""
    rows = []
    for day, revenue, orders in daily_frame().itertuples(index=False):
        north_orders = math.ceil(0.6 * orders)
        rows.append((day, "north", "books", "P1", 0.6 * revenue, north_orders))
        rows.append((day, "south", "toys", "P2", 0.4 * revenue, orders - north_orders))
    columns = ["date", "region", "category", "product_id", "revenue", "orders"]
    return pd.DataFrame(rows, columns=columns)


def report_data(with_model: bool = True) -> ReportData:
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
        {
            "date": pd.date_range("2026-02-26", periods=3),
            "records": [1000, 1000, 2000],
            "quarantined": [10, 20, 30],
            "quarantine_rate": [0.01, 0.02, 0.015],
        }
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
    model = {
        "name": "churn",
        "version": 3,
        "metrics": {"roc_auc": 0.81, "pr_auc": 0.9, "baseline_prior_roc_auc": 0.5},
    }
    return ReportData(
        AS_OF,
        daily_frame(),
        segments,
        products,
        quality=quality,
        model=model if with_model else None,
        alerts=[alert],
        facts=facts_frame(),
    )


def test_report_files_are_self_contained(tmp_path: Path) -> None:
    files = write_report(report_data(), LocalStore(tmp_path), "2026-02-28")
    html = (tmp_path / files.html).read_text()
    assert "<script src" not in html and "<link" not in html  # nothing fetched from elsewhere
    markup = html.split('<script type="application/json"')[0]  # the page before its scripts
    assert "<img" not in markup and "window.Plotly" in html  # plotly.js inline, no PNG charts
    assert "$750.00" in html and "-50.0%" in html and "+25.0%" in html
    assert "revenue_drop: revenue changed -50%" in html
    assert "ROC AUC 0.810; prior baseline 0.500." in html
    assert "Last 30 days (2026-01-30 – 2026-02-28)" in html  # titles say their window
    for name in ("kpis.csv", "daily.csv", "segments.csv", "products.csv", "quality.csv"):
        assert f'<a href="extracts/{name}" download>{name}</a>' in html
    extracts = sorted(Path(k).name for k in files.extracts)
    assert extracts == ["daily.csv", "kpis.csv", "products.csv", "quality.csv", "segments.csv"]
    segments = pd.read_csv(tmp_path / "2026-02-28" / "extracts" / "segments.csv")
    assert segments["revenue"].sum() == pytest.approx(870.5)
    kpis = (tmp_path / "2026-02-28" / "extracts" / "kpis.csv").read_text()
    assert "orders,Orders,5.0,,12.0,4.0,-0.5833,0.25" in kpis  # no 0.5833333333333334


def test_no_model_is_said_not_left_out(tmp_path: Path) -> None:
    files = write_report(report_data(with_model=False), LocalStore(tmp_path), "r")
    html = (tmp_path / files.html).read_text()
    assert 'id="no-model">No model yet: no version has been trained and promoted' in html
    assert 'id="chart-model"' not in html


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def browser_flags(tmp_path: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # The network is off for the page: every request would go to a closed local port.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]


class Page:
    """One page of a headless chromium driven over the DevTools protocol on a pipe.

    ``--remote-debugging-pipe`` reads commands on fd 3 and answers on fd 4 (JSON messages
    ended by NUL), so no port and no websocket library are needed.
    """

    def __init__(self, browser: str, flags: list[str], url: str) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [browser, *flags, "--remote-debugging-pipe", url],
            preexec_fn=wire,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        targets = self._call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self._call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]
        self.wait_for("document.readyState === 'complete' && !!window.Plotly")

    def _call(self, method: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}, **extra}
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._next:
                    assert "error" not in answer, answer
                    return answer["result"]
            left = deadline - time.monotonic()
            assert left > 0, f"no answer to {method}"
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                assert chunk, "the browser closed the pipe"
                self._buffer += chunk

    def eval(self, expression: str) -> Any:
        result = self._call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            sessionId=self._session,
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.eval(f"!!({condition})"):
            assert time.monotonic() < deadline, f"timed out waiting for {condition}"
            time.sleep(0.05)

    def text(self, selector: str) -> str:
        return str(self.eval(f"document.querySelector({json.dumps(selector)}).textContent"))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture
def report_page(tmp_path: Path) -> Iterator[Page]:
    if BROWSER is None:
        pytest.fail("chromium is required: make test installs it (see .ci/run / Makefile)")
    files = write_report(report_data(), LocalStore(tmp_path), "r")
    page = Page(BROWSER, browser_flags(tmp_path), (tmp_path / files.html).resolve().as_uri())
    try:
        yield page
    finally:
        page.close()


def test_filters_drive_the_kpis_charts_and_tables_in_a_browser(report_page: Page) -> None:
    page = report_page
    day = '[data-kpi="revenue"] .value'
    period = '[data-period="revenue"] .value'
    assert page.text(day) == "$750.00"
    # 28 days of data in the 30-day window: 25 x 1,000 + 750 + 1,500 + 600.
    assert page.text(period) == "$27,850.00"
    assert page.eval("document.querySelectorAll('.main-svg').length") >= 12  # six charts drawn
    assert page.text("#chart-daily .gtitle").startswith("Daily revenue, 2026-01-30 – 2026-02-28")

    # Choose the south region as a reader does: the select changes, every number follows.
    page.eval(
        "const s = document.getElementById('region-filter'); s.value = 'south';"
        "s.dispatchEvent(new Event('change'))"
    )
    assert page.text(day) == "$300.00"  # 40 % of 750
    assert page.text(period) == "$11,140.00"  # 40 % of 27,850
    assert page.text("#day-title") == "Day 2026-02-28, south, all categories"
    assert page.eval("document.querySelectorAll('#segments tbody tr').length") == 1
    assert page.text("#segments tbody tr td") == "south"
    assert "south" in page.text("#chart-products .gtitle")
    assert page.eval("location.hash") == "#region=south"

    # A shorter date range: the last 7 days, in the period cards and the chart titles.
    page.eval(
        "const f = document.getElementById('from-filter'); f.value = '2026-02-22';"
        "f.dispatchEvent(new Event('change'))"
    )
    assert page.text(period) == f"${0.4 * (5 * 1000 + 1500 + 750):,.2f}"  # 02-21 left out
    assert page.text("#period-title") == "7 days, 2026-02-22 – 2026-02-28, south, all categories"
    assert "2026-02-22 – 2026-02-28" in page.text("#chart-region .gtitle")

    # Sorting a table by a column header.
    page.eval("document.getElementById('reset-filters').click()")
    page.eval("document.querySelector('#segments th[data-key=\"region\"]').click()")
    regions = page.eval(
        "[...document.querySelectorAll('#segments tbody tr')].map(r => r.dataset.region)"
    )
    assert regions == ["north", "south"]
    page.eval("document.querySelector('#segments th[data-key=\"region\"]').click()")
    regions = page.eval(
        "[...document.querySelectorAll('#segments tbody tr')].map(r => r.dataset.region)"
    )
    assert regions == ["south", "north"]


def test_report_renders_offline_with_its_filters_in_a_screenshot(tmp_path: Path) -> None:
    if BROWSER is None:
        pytest.fail("chromium is required: make test installs it (see .ci/run / Makefile)")
    files = write_report(report_data(), LocalStore(tmp_path), "r")
    page = (tmp_path / files.html).resolve().as_uri()
    flags = [*browser_flags(tmp_path), "--virtual-time-budget=10000"]
    dom = subprocess.run(
        [BROWSER, *flags, "--dump-dom", page + "#category=books"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count('class="kpi"') == 3 and dom.count('class="kpi period"') == 3
    assert len(re.findall(r'class="main-svg"', dom)) >= 12  # charts drawn with no network
    # The address chose a filter: books is north only, 60 % of the report day's 750.
    assert re.search(r'data-kpi="revenue">.*?<div class="value">\$450\.00<', dom, re.S)
    shot = tmp_path / "report.png"
    subprocess.run(
        [BROWSER, *flags, f"--screenshot={shot}", "--window-size=1200,2400", page],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    keep = os.environ.get("REPORT_SCREENSHOT")
    if keep:  # to look at it: REPORT_SCREENSHOT=/tmp/report.png pytest -k screenshot
        shutil.copy(shot, keep)


def test_the_same_numbers_in_another_order_give_the_same_page(tmp_path: Path) -> None:
    # The engine returns grouped rows in any order; a rerun must rebuild the page byte for byte.
    first = report_data()
    second = report_data()
    second.facts = facts_frame().sample(frac=1.0, random_state=7)
    a = write_report(first, LocalStore(tmp_path / "a"), "r")
    b = write_report(second, LocalStore(tmp_path / "b"), "r")
    assert (tmp_path / "a" / a.html).read_bytes() == (tmp_path / "b" / b.html).read_bytes()
