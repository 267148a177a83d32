"""The pure transforms the unit tests check are the ones ``lake etl`` runs.

Each mutant below is a subtly wrong version of one pure function of
``lakelib/etl/_transforms.py`` (the kind of slip a refactoring makes). It replaces the
function's code in this process, so every caller, wherever it imported the function from,
runs the mutant; ``lake etl`` then runs in-process on a small generated lake, and the
end-to-end check against the generator's manifest must fail. The unmutated run passes the
same check, so the failures are the mutants' doing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lakelib.config import get_settings
from lakelib.etl import _transforms, list_run_records
from lakelib.ingest import ingest
from lakelib.samples import read_manifest

pytestmark = pytest.mark.usefixtures("spark")

START = dt.date(2026, 1, 1)


# -- the mutants: same signatures, one slip each ---------------------------------------------
def _deduplicate_keeps_the_first_arrival(rows: Any, key: str = "id", *, dropped: Any = None) -> Any:
    # Slip: the arrival time sorts ascending, so the first version of an id wins.
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = version_order(rows.columns)  # noqa: F821 - the mutant runs in _transforms' globals
    order[0] = F.col(ARRIVAL).cast("timestamp").asc_nulls_last()  # noqa: F821
    window = Window.partitionBy(key).orderBy(*order)
    ranked = rows.withColumn("_version", F.row_number().over(window))
    if dropped is not None:
        ranked = ranked.observe(
            dropped, F.sum(F.when(F.col("_version") > 1, 1).otherwise(0)).alias("dropped")
        )
    return ranked.where(F.col("_version") == 1).drop("_version")


def _valid_rows_lets_out_of_range_through(checked: Any, contract: Any, keep: Any = ()) -> Any:
    # Slip: a range failure counted as valid (as if ranges were advisory).
    from pyspark.sql import functions as F

    passed = F.col(REASON).isNull() | F.col(REASON).startswith("out_of_range")  # noqa: F821
    return typed_envelope(  # noqa: F821
        checked.where(passed).select(*valid_columns(checked, contract), *keep)  # noqa: F821
    )


def _rejected_rows_only_unreadable_lines(checked: Any, contract: Any) -> Any:
    # Slip: only malformed JSON goes to the quarantine; other rejects vanish.
    from pyspark.sql import functions as F

    envelope = [F.col(c) for c in (*ENVELOPE, FILE, *ARRIVAL_KEYS) if c in checked.columns]  # noqa: F821
    original = (
        F.col(ORIGINAL)  # noqa: F821
        if ORIGINAL in checked.columns  # noqa: F821
        else original_text(checked, contract)  # noqa: F821
    )
    return checked.where(F.col(REASON).startswith("malformed_json")).select(  # noqa: F821
        F.col(REASON),  # noqa: F821
        original.alias(ORIGINAL),  # noqa: F821
        *envelope,
    )


MUTANTS: dict[str, tuple[Callable[..., Any], Callable[..., Any]] | None] = {
    "unmutated": None,
    "deduplicate-first-wins": (_transforms.deduplicate, _deduplicate_keeps_the_first_arrival),
    "valid_rows-ranges-ignored": (_transforms.valid_rows, _valid_rows_lets_out_of_range_through),
    "rejected_rows-malformed-only": (
        _transforms.rejected_rows,
        _rejected_rows_only_unreadable_lines,
    ),
}


def lake_etl_matches_the_manifest(spark: Any, samples: Path, lake: Path) -> None:
    """Land four days, run ``lake etl sales_clean`` (in this process), and check the table,
    the quarantine and the run's counts against the generator's manifest."""
    from lakelib.cli import main

    settings = get_settings()
    for ref in ("customers", "products"):
        ingest(ref, str(samples / ref), run_date=START, settings=settings)
    for d in range(4):
        day = START + dt.timedelta(days=d)
        ingest(
            "sales",
            str(samples / "sales" / f"sales_{day:%Y%m%d}.jsonl"),
            run_date=dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC),
            validate=False,
            settings=settings,
        )
    manifest = read_manifest(samples)["sales"]
    dirt = manifest["dirt"]
    assert main(["etl", "sales_clean"]) == 0, "lake etl failed"
    (record,) = list_run_records("sales_clean", settings)
    clean = spark.read.parquet(str(lake / "processed/sales_clean"))
    quarantine = spark.read.parquet(str(lake / "quarantine/sales_clean"))
    assert clean.count() == clean.select("id").distinct().count() == manifest["valid_unique_ids"]
    total = clean.selectExpr("sum(cast(amount as decimal(20,2)))").first()[0]
    assert total == Decimal(manifest["valid_amount_total"])
    assert quarantine.count() == manifest["rejected"] - dirt["malformed_json"]
    assert record["rows_out"] == manifest["valid_unique_ids"]
    assert record["duplicates_removed"] == manifest["duplicate_lines"]


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_a_mutated_pure_transform_fails_the_end_to_end_check(
    spark: Any, samples: Path, lake_home: Path, monkeypatch: pytest.MonkeyPatch, mutant: str
) -> None:
    swap = MUTANTS[mutant]
    if swap is None:
        lake_etl_matches_the_manifest(spark, samples, lake_home)
        return
    function, replacement = swap
    # The code object, not the module attribute: callers that imported the function by name
    # (the batch does) run the mutant too.
    monkeypatch.setattr(function, "__code__", replacement.__code__)
    with pytest.raises(AssertionError):
        lake_etl_matches_the_manifest(spark, samples, lake_home)
