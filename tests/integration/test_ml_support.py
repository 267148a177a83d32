"""Test-only helpers for the ML tests: a ``sales_clean``-shaped table without Spark.

``write_sales_clean`` turns generated sample files (``lakelib.samples``) into Parquet shaped like
the ETL's ``processed/sales_clean/year=/month=/day=/`` output and registers it in the catalog,
so the ML tests do not need the Spark session. The cleaning is deliberately rough (drop what
does not parse, last line per id wins): the tests need the signal, not the ETL's rules.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lakelib.catalog import Column, Table, open_catalog
from lakelib.config import Settings, Zone, get_settings
from lakelib.storage import date_partition, partition_path

SALES_CLEAN_COLUMNS = (
    Column("id", "string"),
    Column("date", "timestamp"),
    Column("amount", "double"),
    Column("customer_id", "string"),
    Column("product_id", "string"),
    Column("channel", "string"),
    Column("region", "string"),
    Column("segment", "string"),
    Column("signup_date", "date"),
    Column("category", "string"),
    Column("unit_price", "double"),
)


def sales_clean_frame(samples: Path) -> pd.DataFrame:
    """Generated sample sources joined and roughly cleaned into ``sales_clean``'s columns."""
    records = []
    for path in sorted((samples / "sales").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    sales = pd.DataFrame.from_records(records)
    sales["amount"] = pd.to_numeric(sales["amount"], errors="coerce")
    sales["date"] = pd.to_datetime(sales["date"], errors="coerce", utc=True, format="ISO8601")
    sales = sales.dropna(subset=["id", "date", "amount", "customer_id", "product_id"])
    sales = sales.loc[(sales["amount"] > 0) & (sales["amount"] < 100_000)]
    sales = sales.drop_duplicates("id", keep="last")
    if "channel" not in sales:
        sales["channel"] = None
    customers = pd.read_csv(samples / "customers" / "customers.csv", dtype=str)
    products = pd.read_csv(samples / "products" / "products.csv", dtype={"product_id": str})
    out = sales.merge(customers, on="customer_id", how="left").merge(
        products, on="product_id", how="left"
    )
    for name in ("region", "segment", "category"):
        out[name] = out[name].fillna("unknown")
    out["signup_date"] = pd.to_datetime(out["signup_date"], errors="coerce").dt.date
    out["date"] = out["date"].dt.tz_convert("UTC").dt.tz_localize(None)
    columns = [c.name for c in SALES_CLEAN_COLUMNS]
    return out[columns].sort_values("date").reset_index(drop=True)


def write_sales_clean(frame: pd.DataFrame, settings: Settings | None = None) -> Table:
    """Write ``frame`` as ``processed/sales_clean/year=/month=/day=/part-0.parquet`` + catalog."""
    settings = settings or get_settings()
    root = Path(settings.zone_uri(Zone.PROCESSED)) / "sales_clean"
    catalog = open_catalog(settings)
    table = Table(
        database=settings.database,
        name="sales_clean",
        columns=SALES_CLEAN_COLUMNS,
        partition_keys=("year", "month", "day"),
        location=str(root),
        classification="parquet",
        compression="snappy",
    )
    catalog.put_table(table)
    days = frame["date"].dt.date
    partitions = []
    for day, rows in frame.groupby(days, sort=True):
        values = date_partition(day)
        folder = root / partition_path(values)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), folder / "part-0.parquet")
        partitions.append(table.partition(values))
    catalog.add_partitions("sales_clean", partitions)
    return table


def sample_spec_days(start: dt.date, days: int) -> list[dt.date]:
    return [start + dt.timedelta(days=d) for d in range(days)]


def generated_sales_clean(out: Path, days: int = 60, rows_per_day: int = 150) -> pd.DataFrame:
    """Generate small sample sources into ``out`` and clean them into a ``sales_clean`` frame."""
    from lakelib.samples import GeneratorSpec, generate_all

    generate_all(
        out, GeneratorSpec(start=dt.date(2026, 1, 1), days=days, rows_per_day=rows_per_day, seed=5)
    )
    return sales_clean_frame(out)


def events_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The events frame ``lakelib.ml.load_events`` would return for a sales_clean frame."""
    events = frame.rename(columns={"date": "ts"})
    return events[["customer_id", "ts", "amount", "segment", "region", "category", "signup_date"]]


def write_trained_model(frame: pd.DataFrame, folder: Path) -> dict[str, object]:
    """Fit the real pipeline in-process on ``frame`` and write a model folder (fast)."""
    from lakelib.ml._artifact import write_model_dir
    from lakelib.ml._features import (
        CATEGORICAL_FEATURES,
        feature_columns,
        labelled_examples,
        plan_cutoffs,
    )
    from lakelib.ml._script import build_estimator

    events = events_of(frame)
    plan = plan_cutoffs(events["ts"].min().date(), events["ts"].max().date())
    examples = labelled_examples(events, plan.train)
    features = feature_columns(examples)
    numeric = [c for c in features if c not in CATEGORICAL_FEATURES]
    estimator = build_estimator(numeric, list(CATEGORICAL_FEATURES), max_iter=30)
    estimator.fit(examples[features], examples["label"])
    return write_model_dir(
        folder,
        estimator,
        {
            "model_name": "churn",
            "features": features,
            "numeric_features": numeric,
            "categorical_features": list(CATEGORICAL_FEATURES),
            "category_shares": [c[len("share_") :] for c in features if c.startswith("share_")],
            "metrics": {"roc_auc": 0.8},
            "training_data": {"horizon_days": 30},
        },
    )


def csv_row(features: list[str], segment: str = "consumer") -> str:
    """A valid CSV row for a model with these features."""
    values = []
    for name in features:
        if name == "segment":
            values.append(segment)
        elif name == "region":
            values.append("north")
        else:
            values.append("2.5")
    return ",".join(values)
