"""For ``pytest --nbval-lax notebooks/``: a small prepared lake the notebooks run against.

It lives at the repository root, not in ``notebooks/``, so the folder a user browses holds
notebooks only; pytest loads a root ``conftest.py`` for every test path below it.

56 days x 150 sales (enough for the churn model's time split), landed, crawled, cleaned,
curated, and one model trained. nbval's cells are not fixture-aware, so the lake is built by
a hook before the first notebook's kernel starts; the kernels inherit ``LAKE_HOME``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

_lake: Path | None = None


def build_lake(home: Path) -> None:
    from lakelib.catalog import crawl
    from lakelib.config import configure
    from lakelib.etl import get_spark, run_etl
    from lakelib.ingest import ingest
    from lakelib.ml import train
    from lakelib.samples import GeneratorSpec, generate_all

    settings = configure(home=home)
    spec = GeneratorSpec(start=dt.date(2026, 1, 1), days=56, rows_per_day=150, seed=3)
    samples = home / "samples"
    generate_all(samples, spec)
    for reference in ("customers", "products"):
        ingest(reference, str(samples / reference), run_date=spec.start, settings=settings)
    for path in sorted((samples / "sales").glob("sales_*.jsonl")):
        day = dt.datetime.strptime(path.stem.split("_")[1], "%Y%m%d").replace(tzinfo=dt.UTC)
        if path.stat().st_size:
            ingest("sales", str(path), run_date=day, settings=settings)
    crawl(settings=settings)
    get_spark(  # the test run's session when the test tiers run first; else a small one
        "lakelib-notebook-tests",
        master="local[2]",
        config={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"},
    )
    run_etl(settings=settings)
    train(settings=settings)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _lake
    if _lake is not None or not str(item.fspath).endswith(".ipynb"):
        return
    _lake = Path(tempfile.mkdtemp(prefix="lakelib-notebooks-"))
    for name in [n for n in os.environ if n.startswith(("LAKE_", "AWS_"))]:
        del os.environ[name]
    os.environ.update(
        LAKE_HOME=str(_lake), PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1"
    )
    build_lake(_lake)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _lake is not None:
        shutil.rmtree(_lake, ignore_errors=True)
