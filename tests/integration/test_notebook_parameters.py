"""The notebooks as a user meets them: parameters that change what runs, charts inline,
narrative to learn from, and nothing but notebooks in the folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
import pytest
from test_report_data import sales_clean

import lakelib as lk
from lakelib.catalog import crawl
from lakelib.pipeline import run_notebooks

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def outputs(executed: dict, marker: str) -> str:
    """The text outputs of the first code cell whose source contains ``marker``."""
    cell = next(c for c in executed["cells"] if marker in "".join(c["source"]))
    texts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            texts.append("".join(output["text"]))
        texts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def test_run_date_and_tables_are_parameters_of_01_explore(lake_home: Path) -> None:
    sales_clean(lake_home)  # sales from 2026-01-01 to 2026-01-20
    crawl("processed")
    # Quarantined records by arrival day (the quarantine zone's year/month/day folders).
    refused = pd.DataFrame(
        {
            "reason": ["amount: negative", "amount: negative", "id: missing", "date: bad"],
            "year": ["2026"] * 4,
            "month": ["01"] * 4,
            "day": ["10", "10", "15", "16"],  # the last one arrived after run_date
        }
    )
    lk.write_table(
        refused, "test_quarantine", zone="processed", partition_cols=["year", "month", "day"]
    )
    (key,) = run_notebooks(
        ["01_explore"],
        dt.date(2026, 1, 15),
        parameters={"quarantine_table": "test_quarantine"},
    )
    executed = json.loads((lake_home / "runs" / key).read_text())
    size = outputs(executed, "count(DISTINCT customer_id)")
    assert "2026-01-15" in size and "2026-01-20" not in size  # the lake as of run_date
    reasons = outputs(executed, "split_part(reason")
    assert "amount" in reasons and "2" in reasons and "id" in reasons
    assert "date" not in reasons  # refused after run_date: not yet part of the picture


def test_run_date_limits_what_02_train_trains_on(lake_home: Path) -> None:
    sales_clean(lake_home)  # sales from 2026-01-01 to 2026-01-20, plus the sale's timestamp
    for part in (lake_home / "processed" / "sales_clean").rglob("*.parquet"):
        table = pq.read_table(part)
        stamp = pa.compute.cast(table["event_date"], pa.timestamp("us", tz="UTC"))
        pq.write_table(table.append_column("date", stamp), part)
    crawl("processed")
    (key,) = run_notebooks(["02_train"], dt.date(2026, 1, 10), parameters={"retrain": False})
    executed = json.loads((lake_home / "runs" / key).read_text())
    events = outputs(executed, "lk.ml.load_events")
    assert "from 2026-01-01 to 2026-01-10" in events  # nothing after run_date reaches training
    assert "not retrained" in outputs(executed, "if retrain:")


def test_04_report_shows_its_charts_inline(lake_home: Path) -> None:
    sales_clean(lake_home)
    crawl("processed")
    (key,) = run_notebooks(["04_report"], dt.date(2026, 1, 15), parameters={"window_days": 7})
    executed = json.loads((lake_home / "runs" / key).read_text())
    charts = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if "application/vnd.plotly.v1+json" in o.get("data", {})
    ]
    titles = [
        o["data"]["application/vnd.plotly.v1+json"]["layout"]["title"]["text"] for o in charts
    ]
    assert "Daily revenue to 2026-01-15 (USD)" in titles
    assert "Revenue by region, 2026-01-09 – 2026-01-15" in titles


@pytest.mark.parametrize("name", ["01_explore", "02_train", "03_deploy", "04_report"])
def test_notebooks_explain_and_take_the_profile_from_the_workspace(name: str) -> None:
    notebook = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    cells = notebook["cells"]
    parameters = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    # None: LAKE_PROFILE or lake.toml's default, never a hard-coded "local".
    assert "profile = None" in "".join(parameters["source"])
    words = sum(len("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")
    assert words >= 200, f"{name}: {words} words of narrative"
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert not any(
        line.lstrip().startswith(("def ", "class ")) for s in code for line in s.split("\n")
    )
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")  # stripped


def test_the_notebooks_folder_holds_notebooks_only() -> None:
    assert sorted(p.name for p in NOTEBOOKS.iterdir() if not p.name.startswith(".")) == [
        "01_explore.ipynb",
        "02_train.ipynb",
        "03_deploy.ipynb",
        "04_report.ipynb",
    ]
