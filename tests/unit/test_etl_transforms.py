"""Pure ETL transforms on a handful of rows (one Spark session for the whole run)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lakelib.etl import (
    check_contract,
    conform,
    customer_aggregates,
    daily_sales,
    deduplicate,
    enrich,
    latest_snapshot,
    product_performance,
    rejected_rows,
    valid_rows,
)
from lakelib.ingest import Contract, load_contract

pytestmark = pytest.mark.usefixtures("spark")

SALES = Contract.from_config(
    "sales",
    {
        "required": ["id", "date", "amount", "customer_id", "product_id"],
        "fields": {
            "id": "string",
            "date": "timestamp",
            "amount": "double",
            "customer_id": "string",
            "product_id": "string",
            "channel": "string",
        },
        "ranges": {"amount": {"min": 0.01, "max": 100_000}},
    },
)
COLUMNS = ["id", "date", "amount", "customer_id", "product_id", "channel"]
ENVELOPE = ["_ingested_at", "_position", "_source", "_run_id", "_origin", "_file"]


def raw_frame(spark: Any, rows: list[dict[str, Any]]) -> Any:
    from pyspark.sql.types import StringType, StructField, StructType

    names = [*COLUMNS, *ENVELOPE, "_corrupt_record"]
    schema = StructType([StructField(n, StringType()) for n in names])
    data = [
        tuple(
            row.get(n, {"_ingested_at": "2026-01-02T02:00:00Z", "_file": "f1"}.get(n))
            for n in names
        )
        for row in rows
    ]
    return spark.createDataFrame(data, schema)


def good(**over: Any) -> dict[str, Any]:
    row = {
        "id": "S1",
        "date": "2026-01-05T13:45:12Z",
        "amount": "42.5",
        "customer_id": "C1",
        "product_id": "P1",
    }
    row.update(over)
    return row


def reasons(spark: Any, rows: list[dict[str, Any]]) -> list[str | None]:
    checked = check_contract(raw_frame(spark, rows), SALES)
    return [r["reason"] for r in checked.orderBy("id").collect()]


def test_contract_checks_match_ingestion_wording(spark: Any) -> None:
    rows = [
        good(id="a"),
        good(id="b", amount="12.50"),
        good(id="c", amount=""),
        good(id="d", amount="-3"),
        good(id="e", amount="1000000"),
        good(id="f", date="2026-13-45T25:61:00Z"),
        good(id="g", date="N/A"),
        good(id="h", customer_id=None),
        good(id="i", amount="abc"),
        good(id="j", date="2026-01-05T13:45:12+02:00"),
        good(id="k", amount="NaN"),
        good(id="l", date="2026"),
    ]
    assert reasons(spark, rows) == [
        None,
        None,
        "missing_required: field 'amount' is missing or null",
        "out_of_range: field 'amount' value -3 is below the minimum 0.01",
        "out_of_range: field 'amount' value 1000000 is above the maximum 100000.0",
        "bad_type: field 'date' value '2026-13-45T25:61:00Z' is not a timestamp",
        "bad_type: field 'date' value 'N/A' is not a timestamp",
        "missing_required: field 'customer_id' is missing or null",
        "bad_type: field 'amount' value 'abc' is not a double",
        None,
        "bad_type: field 'amount' value 'NaN' is not a double",
        "bad_type: field 'date' value '2026' is not a timestamp",
    ]


def test_contract_from_lake_toml_types_values_and_keeps_utc(spark: Any) -> None:
    from lakelib.config import get_settings

    contract = load_contract("sales", get_settings().section("sources"))
    checked = check_contract(
        raw_frame(spark, [good(amount="12.50", date="2026-01-05T13:45:12+02:00")]), contract
    )
    row = valid_rows(checked, contract).first()
    assert row["amount"] == 12.5
    assert row["date"] == dt.datetime(2026, 1, 5, 11, 45, 12)


def test_malformed_record_and_quarantine_shape(spark: Any) -> None:
    frame = raw_frame(spark, [{"_corrupt_record": '{"id": "x", "amo'}, good(id="z", amount="-1")])
    rejected = rejected_rows(check_contract(frame, SALES), SALES).orderBy("reason").collect()
    assert rejected[0]["reason"] == "malformed_json: not a JSON object"
    assert rejected[0]["original"] == '{"id": "x", "amo'
    assert rejected[1]["reason"].startswith("out_of_range")
    assert '"amount":"-1"' in rejected[1]["original"]
    assert rejected[1]["_file"] == "f1"


def test_deduplicate_keeps_latest_ingested_version(spark: Any) -> None:
    rows = [
        good(id="a", amount="10", _ingested_at="2026-01-02T02:00:00Z"),
        good(id="a", amount="12", _ingested_at="2026-01-04T02:00:00Z"),
        good(id="a", amount="11", _ingested_at="2026-01-03T02:00:00Z"),
        good(id="b", amount="5"),
        good(id="b", amount="5"),
        good(id="c", amount="7", _file="f1"),
        good(id="c", amount="8", _file="f2"),
    ]
    clean = valid_rows(check_contract(raw_frame(spark, rows), SALES), SALES)
    kept = {r["id"]: r["amount"] for r in deduplicate(clean).collect()}
    assert kept == {"a": 12.0, "b": 5.0, "c": 8.0}


def test_deduplicate_keeps_the_later_arrival_within_one_run_never_the_values(spark: Any) -> None:
    """Two versions of an id in one ingest run (same ``_ingested_at``, same raw file): the
    one read later wins, whatever its amount: 40 then a corrected 50 keeps 50, 50 then 40
    keeps 40."""
    same = {"_ingested_at": "2026-01-02T02:00:00.000000Z", "_file": "f1"}
    rows = [
        good(id="up", amount="40", _position="0", **same),
        good(id="up", amount="50", _position="1", **same),
        good(id="down", amount="50", _position="2", **same),
        good(id="down", amount="40", _position="3", **same),
    ]
    clean = valid_rows(check_contract(raw_frame(spark, rows), SALES), SALES)
    kept = {r["id"]: r["amount"] for r in deduplicate(clean).collect()}
    assert kept == {"up": 50.0, "down": 40.0}
    # The same order when the rows are handed over in reverse and as text (not typed).
    text = raw_frame(spark, list(reversed(rows)))
    assert {r["id"]: r["amount"] for r in deduplicate(text).collect()} == {
        "up": "50",
        "down": "40",
    }


def test_deduplicate_compares_arrival_as_time_across_precisions(spark: Any) -> None:
    """``_ingested_at`` with seconds (older raw files) and with microseconds order by time
    (as text ``...:00Z`` sorts after ``...:00.5Z``); a record without ``_position`` counts as
    -1, before any positioned record of the same instant."""
    rows = [
        # Half a second later wins, though its position and file are smaller.
        good(id="a", amount="1", _ingested_at="2026-01-02T02:00:00Z", _position=None, _file="f9"),
        good(id="a", amount="2", _ingested_at="2026-01-02T02:00:00.500000Z", _position="0"),
        # Same instant: the positioned record is the later one.
        good(id="b", amount="9", _ingested_at="2026-01-02T02:00:00Z", _position=None, _file="f9"),
        good(id="b", amount="3", _ingested_at="2026-01-02T02:00:00.000000Z", _position="0"),
    ]
    for frame in (
        raw_frame(spark, rows),
        valid_rows(check_contract(raw_frame(spark, rows), SALES), SALES),
    ):
        kept = {r["id"]: float(r["amount"]) for r in deduplicate(frame).collect()}
        assert kept == {"a": 2.0, "b": 3.0}


def test_deduplicate_orders_records_without_position_by_file_then_line(spark: Any) -> None:
    """Raw files older than ``_position``: one run's versions in one file order by line."""
    from pyspark.sql.types import LongType

    old = {"_ingested_at": "2026-01-02T02:00:00Z", "_position": None}
    rows = [
        good(id="a", amount="40", _file="f1", **old),
        good(id="a", amount="50", _file="f1", **old),
        good(id="b", amount="50", _file="f1", **old),
        good(id="b", amount="40", _file="f1", **old),
        good(id="c", amount="9", _file="f2", **old),  # the later file, though an earlier line
        good(id="c", amount="1", _file="f1", **old),
    ]
    base = raw_frame(spark, rows)
    numbered = spark.createDataFrame(
        [(*row, line) for line, row in enumerate(base.collect())],
        base.schema.add("_line", LongType()),
    )
    kept = {r["id"]: r["amount"] for r in deduplicate(numbered).collect()}
    assert kept == {"a": "50", "b": "40", "c": "9"}


def test_conform_derives_event_date_parts_and_bands(spark: Any) -> None:
    rows = [
        good(id="a", date="2026-01-05T23:59:59Z", amount="9.99"),
        good(id="b", date="2026-02-28T00:00:00Z", amount="10"),
        good(id="c", amount="750"),
    ]
    clean = valid_rows(check_contract(raw_frame(spark, rows), SALES), SALES)
    out = {r["id"]: r for r in conform(clean).collect()}
    assert (out["a"]["year"], out["a"]["month"], out["a"]["day"]) == ("2026", "01", "05")
    assert out["a"]["weekday"] == "Mon" and out["a"]["hour"] == 23
    assert out["a"]["event_date"] == dt.date(2026, 1, 5)
    assert out["b"]["month"] == "02" and out["b"]["amount_band"] == "10-50"
    assert out["a"]["amount_band"] == "<10" and out["c"]["amount_band"] == ">=500"


def _reference(spark: Any, rows: list[tuple[str, ...]], columns: list[str]) -> Any:
    return spark.createDataFrame(rows, [*columns, "_ingested_at", "_run_id"])


def test_latest_snapshot_and_enrich_mark_unknown_keys(spark: Any) -> None:
    customers = _reference(
        spark,
        [
            ("C1", "north", "consumer", "2025-01-01", "2026-01-01T00:00:00Z", "r1"),
            ("C1", "south", "business", "2025-01-01", "2026-01-02T00:00:00Z", "r2"),
            ("C2", "east", "consumer", "2025-06-01", "2026-01-01T00:00:00Z", "r1"),
        ],
        ["customer_id", "region", "segment", "signup_date"],
    )
    snapshot = latest_snapshot(customers, "customer_id")
    assert [r["customer_id"] for r in snapshot.collect()] == ["C1"]  # C2 left in r2
    rows = [good(id="a", customer_id="C1"), good(id="b", customer_id="C9")]
    clean = valid_rows(check_contract(raw_frame(spark, rows), SALES), SALES)
    out = {r["id"]: r for r in enrich(clean, snapshot, None).collect()}
    assert out["a"]["region"] == "south" and out["a"]["customer_known"] is True
    assert out["a"]["signup_date"] == dt.date(2025, 1, 1)
    assert out["b"]["region"] == "unknown" and out["b"]["customer_known"] is False
    assert out["a"]["category"] == "unknown" and out["a"]["product_known"] is False
    assert len(out) == 2


def _sales(spark: Any) -> Any:
    rows = [
        good(id="1", customer_id="C1", product_id="P1", amount="10", date="2026-01-01T10:00:00Z"),
        good(id="2", customer_id="C1", product_id="P2", amount="30", date="2026-01-03T10:00:00Z"),
        good(id="3", customer_id="C1", product_id="P2", amount="30", date="2026-01-03T11:00:00Z"),
        good(id="4", customer_id="C2", product_id="P1", amount="5", date="2026-01-05T10:00:00Z"),
    ]
    clean = conform(valid_rows(check_contract(raw_frame(spark, rows), SALES), SALES))
    customers = _reference(
        spark,
        [("C1", "north", "consumer", "2025-12-01", "2026-01-01T00:00:00Z", "r")],
        ["customer_id", "region", "segment", "signup_date"],
    )
    products = _reference(
        spark,
        [
            ("P1", "toys", "5.0", "2026-01-01T00:00:00Z", "r"),
            ("P2", "books", "15.0", "2026-01-01T00:00:00Z", "r"),
        ],
        ["product_id", "category", "unit_price"],
    )
    return enrich(clean, customers, products)


def test_customer_aggregates_rfm_and_favourites(spark: Any) -> None:
    out = {r["customer_id"]: r for r in customer_aggregates(_sales(spark)).collect()}
    c1 = out["C1"]
    assert c1["frequency"] == 3 and c1["monetary"] == 70.0 and c1["active_days"] == 2
    assert c1["recency_days"] == 2  # last purchase 01-03, data ends 01-05
    assert c1["tenure_days"] == 35  # signed up 2025-12-01
    assert c1["favourite_category"] == "books" and c1["region"] == "north"
    assert out["C2"]["customer_known"] is False and out["C2"]["tenure_days"] == 0


def test_daily_sales_and_product_performance(spark: Any) -> None:
    sales = _sales(spark)
    days = {(str(r["event_date"]), r["category"]): r for r in daily_sales(sales).collect()}
    assert days[("2026-01-03", "books")]["orders"] == 2
    assert days[("2026-01-03", "books")]["revenue"] == 60.0
    assert days[("2026-01-05", "toys")]["unknown_customer_orders"] == 1
    assert days[("2026-01-05", "toys")]["day"] == "05"
    products = {r["product_id"]: r for r in product_performance(sales).collect()}
    assert products["P2"]["units"] == 4 and products["P2"]["category_rank"] == 1
    assert products["P1"]["revenue"] == 15.0 and products["P1"]["customers"] == 2


def test_curated_money_is_exact_and_counts_are_bigint(spark: Any) -> None:
    """0.01 and 0.06 average to exactly 0.035: half a cent, which rounds up. Added as
    doubles the average is 0.034999999999999996, which rounded to 0.03."""
    same = ("web", "toys", 1.0, True, "north", "consumer", dt.date(2025, 1, 1), True)
    rows = [
        ("C9", "P1", dt.date(2026, 1, day), amount, *same) for day, amount in ((2, 0.01), (3, 0.06))
    ]
    schema = (
        "customer_id string, product_id string, event_date date, amount double, "
        "channel string, category string, unit_price double, product_known boolean, "
        "region string, segment string, signup_date date, customer_known boolean"
    )
    sales = spark.createDataFrame(rows, schema)
    customer = customer_aggregates(sales).first()
    assert (customer["monetary"], customer["avg_order_value"]) == (0.07, 0.04)
    assert customer["active_days"] == 2 and customer["distinct_products"] == 1
    day = daily_sales(sales).orderBy("event_date").first()
    assert day["revenue"] == 0.01 and day["customers"] == 1
    product = product_performance(sales).first()
    assert (product["revenue"], product["customers"]) == (0.07, 1)
    types = {
        **dict(customer_aggregates(sales).dtypes),
        **{f"daily_{k}": v for k, v in daily_sales(sales).dtypes},
    }
    assert types["active_days"] == types["distinct_products"] == "bigint"
    assert types["daily_customers"] == "bigint" and types["monetary"] == "double"
