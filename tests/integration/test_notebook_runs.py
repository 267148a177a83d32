"""Notebooks run by papermill (as ``lake run`` does): parameters override the defaults."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from test_report_data import sales_clean

from lakelib.catalog import crawl
from lakelib.pipeline import NotebookError, run_notebooks


def test_parameters_override_the_defaults(lake_home: Path) -> None:
    sales_clean(lake_home)
    crawl("processed")
    day = dt.date(2026, 1, 15)  # the notebook's default is the last day with sales (01-20)
    (key,) = run_notebooks(["04_report"], day, parameters={"window_days": 7})
    assert key == "2026-01-15/04_report.ipynb"
    executed = json.loads((lake_home / "runs" / key).read_text())
    injected = next(
        c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    )
    source = "".join(injected["source"])
    assert 'run_date = "2026-01-15"' in source and "window_days = 7" in source
    report = (lake_home / "runs" / "2026-01-15" / "report.html").read_text()
    assert "Day 2026-01-15" in report and "(last 7 days)" in report
    assert not (lake_home / "runs" / "2026-01-20").exists()


def test_a_failing_notebook_names_its_cell_and_keeps_the_partial_copy(lake_home: Path) -> None:
    # No sales_clean in this lake: the report notebook cannot query it.
    with pytest.raises(NotebookError, match=r"notebook 04_report failed in cell \d+: QueryError"):
        run_notebooks(["04_report"], dt.date(2026, 1, 15))
    assert (lake_home / "runs" / "2026-01-15" / "04_report.ipynb").is_file()
