"""Which version of a record ``sales_clean`` keeps: the one that arrived last, by
(``_ingested_at``, ``_position``), within a run and across runs, never by its values; and
the tables do not depend on how the same records were batched into ingest and ETL runs."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lakelib.config import get_settings
from lakelib.etl import run_sales_clean
from lakelib.ingest import ingest
from lakelib.samples import read_manifest

pytestmark = pytest.mark.usefixtures("spark")

UTC = dt.UTC


def sale(sale_id: str, amount: float, day: str = "2026-01-01") -> dict[str, Any]:
    return {
        "id": sale_id,
        "date": f"{day}T10:00:00Z",
        "amount": amount,
        "customer_id": "C1",
        "product_id": "P1",
    }


def land_raw(
    lake: Path,
    landed: dt.datetime,
    records: list[dict[str, Any]],
    *,
    positions: list[int] | None = None,
    seq: int = 0,
    stamp: str | None = None,
) -> Path:
    """A raw file as the lake names it, records in the envelope the ETL reads: written by
    hand, so the test fixes ``_ingested_at`` / ``_position`` whatever landing does.
    ``positions=None`` writes records without ``_position`` (a lake older than it)."""
    stamp = stamp or landed.isoformat(timespec="microseconds").replace("+00:00", "Z")
    folder = lake / "raw/sales" / f"year={landed:%Y}/month={landed:%m}/day={landed:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sales_{landed:%Y%m%d_%H%M%S}{f'_{seq}' if seq else ''}.json.gz"
    lines = []
    for i, record in enumerate(records):
        envelope: dict[str, Any] = {
            "_ingested_at": stamp,
            "_source": "sales",
            "_run_id": f"{landed:%Y%m%dT%H%M%S}",
            "_origin": "test",
        }
        if positions is not None:
            envelope["_position"] = positions[i]
        lines.append(json.dumps({**record, **envelope}))
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def amounts(spark: Any, lake: Path) -> dict[str, float]:
    clean = spark.read.parquet(str(lake / "processed/sales_clean"))
    rows = clean.select("id", "amount").collect()
    assert len(rows) == len({r["id"] for r in rows}), "one row per id"
    return {r["id"]: r["amount"] for r in rows}


def test_versions_win_by_arrival_within_a_run_and_across_runs(spark: Any, lake_home: Path) -> None:
    run1 = dt.datetime(2026, 1, 1, 2, 0, 0, 250_000, tzinfo=UTC)
    # One ingest run: an amount of 40 then a corrected 50 keeps 50; 50 then 40 keeps 40.
    # The run spans two files, and the later versions of S3 sit in the file whose name
    # sorts first: position in the run decides, not the file name.
    land_raw(
        lake_home,
        run1,
        [sale("S1", 40), sale("S2", 50), sale("S1", 50), sale("S2", 40), sale("S3", 7)],
        positions=[0, 1, 2, 3, 6],
    )
    land_raw(lake_home, run1, [sale("S3", 5), sale("S4", 8)], positions=[4, 5], seq=1)
    # A run landed before _position existed: within its file the later line wins.
    land_raw(
        lake_home,
        dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
        [sale("L1", 40), sale("L2", 50), sale("L1", 50), sale("L2", 40)],
        stamp="2025-12-31T23:00:00Z",
    )
    legacy = {"L1": 50.0, "L2": 40.0}
    first = run_sales_clean()
    assert amounts(spark, lake_home) == {"S1": 50.0, "S2": 40.0, "S3": 7.0, "S4": 8.0, **legacy}
    assert (first.rows_in, first.rows_out, first.duplicates_removed) == (11, 6, 5)

    # Later runs, processed by a later ETL run, against the stored rows:
    # - a correction that arrived later wins even with a smaller amount (S1 45);
    # - a file from a lake older than _position, stamped to the second, arrived *before*
    #   run 1 (02:00:00 < 02:00:00.25; as text it would sort after): the stored S2 stays;
    # - two versions in one later run: the later position wins (S4 9 then 3 keeps 3).
    land_raw(
        lake_home,
        dt.datetime(2026, 1, 2, 2, 0, 0, 500_000, tzinfo=UTC),
        [sale("S1", 45), sale("S4", 9), sale("S4", 3)],
        positions=[0, 1, 2],
    )
    land_raw(
        lake_home,
        dt.datetime(2026, 1, 1, 2, 0, 0, tzinfo=UTC),
        [sale("S2", 99), sale("S5", 11)],
        stamp="2026-01-01T02:00:00Z",
        seq=2,
    )
    second = run_sales_clean()
    assert second.raw_files == 2
    final = {"S1": 45.0, "S2": 40.0, "S3": 7.0, "S4": 3.0, "S5": 11.0, **legacy}
    assert amounts(spark, lake_home) == final
    assert (second.rows_in, second.rows_out, second.duplicates_removed) == (5, 1, 4)
    assert second.reconciles

    # A full rebuild reads every file in one batch and keeps the same versions.
    run_sales_clean(full=True)
    assert amounts(spark, lake_home) == final


def total_revenue(spark: Any, lake: Path) -> tuple[int, Decimal]:
    clean = spark.read.parquet(str(lake / "processed/sales_clean"))
    row = clean.selectExpr("count(*) AS n", "sum(cast(amount AS decimal(20,2))) AS total").first()
    return int(row["n"]), row["total"]


def test_tables_do_not_depend_on_how_the_data_was_batched(
    spark: Any, samples: Path, lake_home: Path
) -> None:
    """The sample days landed in one ingest run, then again day by day, then the last day
    once more with ``force``: the same records in the same order, so ``sales_clean`` keeps
    the manifest's rows and revenue after each (corrected re-sends win: they come later)."""
    manifest = read_manifest(samples)["sales"]
    expected = (manifest["valid_unique_ids"], Decimal(manifest["valid_amount_total"]))
    settings = get_settings()
    start = dt.date(2026, 1, 1)
    days = [start + dt.timedelta(days=d) for d in range(manifest["days"])]
    for ref in ("customers", "products"):
        ingest(ref, str(samples / ref), run_date=start, settings=settings)

    ingest("sales", str(samples / "sales"), run_date=days[-1], settings=settings)
    run_sales_clean()
    assert total_revenue(spark, lake_home) == expected

    for day in days:
        ingest(
            "sales",
            str(samples / "sales" / f"sales_{day:%Y%m%d}.jsonl"),
            run_date=day + dt.timedelta(days=10),
            force=True,
            settings=settings,
        )
    day_by_day = run_sales_clean()
    assert day_by_day.raw_files == len(days)
    assert total_revenue(spark, lake_home) == expected

    ingest(
        "sales",
        str(samples / "sales" / f"sales_{days[-1]:%Y%m%d}.jsonl"),
        force=True,
        settings=settings,
    )
    again = run_sales_clean()
    assert again.raw_files == 1 and again.rows_out == 0
    assert total_revenue(spark, lake_home) == expected

    # A backfill of the first day dated that day arrived, by its stamp, before every version
    # already stored: processed last, it still loses to all of them.
    ingest(
        "sales",
        str(samples / "sales" / f"sales_{days[0]:%Y%m%d}.jsonl"),
        run_date=days[0],
        force=True,
        settings=settings,
    )
    backfill = run_sales_clean()
    assert backfill.rows_in > 0 and backfill.rows_quarantined == 0
    assert (backfill.rows_out, backfill.duplicates_removed) == (0, backfill.rows_in)
    assert total_revenue(spark, lake_home) == expected
