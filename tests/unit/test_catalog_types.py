"""Type strings, widening, per-file inference and the model's rules, on in-memory data."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from lakelib.catalog import Column, Partition, Table, match_partition, table_name_for
from lakelib.catalog._infer import (
    SamplingBudget,
    UnreadableFileError,
    csv_value_type,
    file_format,
    infer_csv,
    infer_json,
    sample_order,
)
from lakelib.catalog._model import diff_tables
from lakelib.catalog._types import normalize, of_arrow, of_value, parquet_reads_as, render
from lakelib.catalog._types import widen_text as widen
from lakelib.errors import CatalogError, InvalidNameError

BUDGET = SamplingBudget()


@pytest.mark.parametrize(
    "text",
    [
        "bigint",
        "decimal(10,2)",
        "array<string>",
        "map<string,bigint>",
        "struct<a:string,b:struct<c:bigint,d:array<double>>>",
    ],
)
def test_type_strings_round_trip(text: str) -> None:
    assert normalize(text) == text


def test_type_spelling_is_normalised_and_unknown_types_refused() -> None:
    assert normalize("STRUCT<a: INT, b: Decimal(10, 2)>") == "struct<a:int,b:decimal(10,2)>"
    assert normalize("varchar(20)") == "string"
    with pytest.raises(CatalogError, match="unknown"):
        normalize("uuid")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("int", "bigint", "bigint"),
        ("bigint", "double", "double"),
        ("double", "string", "string"),
        ("int", "float", "double"),
        ("tinyint", "smallint", "smallint"),
        ("boolean", "bigint", "string"),
        ("date", "timestamp", "timestamp"),
        ("decimal(10,2)", "decimal(5,4)", "decimal(12,4)"),
        ("decimal(10,2)", "bigint", "decimal(21,2)"),
        ("decimal(10,2)", "double", "double"),
        ("array<int>", "array<bigint>", "array<bigint>"),
        ("struct<a:int>", "struct<b:string>", "struct<a:int,b:string>"),
        ("struct<a:int>", "struct<a:string>", "struct<a:string>"),
        ("struct<a:int>", "array<int>", "string"),
    ],
)
def test_widening_follows_the_documented_lattice(a: str, b: str, expected: str) -> None:
    assert widen(a, b) == expected
    if not a.startswith("struct"):
        assert widen(b, a) == expected  # order does not matter


def test_json_values_map_to_glue_types() -> None:
    assert of_value(True) == "boolean"  # bool before int
    assert of_value(3) == "bigint"
    assert of_value(2**70) == "decimal(38,0)"
    assert of_value(1.5) == "double"
    assert render(of_value(None)) == "string"
    assert render(of_value([])) == "array<string>"
    assert render(of_value({})) == "string"
    nested = {"Name": "x", "tags": ["a"], "geo": {"lat": 1.0, "n": [{"k": 1}, {"k": None}]}}
    assert render(of_value(nested)) == (
        "struct<name:string,tags:array<string>,geo:struct<lat:double,n:array<struct<k:bigint>>>>"
    )


def test_arrow_types_map_to_glue_types() -> None:
    struct = pa.struct([("a", pa.int32()), ("b", pa.list_(pa.string()))])
    assert render(of_arrow(struct)) == "struct<a:int,b:array<string>>"
    assert of_arrow(pa.timestamp("us", tz="UTC")) == "timestamp"
    assert of_arrow(pa.decimal128(12, 2)) == "decimal(12,2)"
    assert of_arrow(pa.dictionary(pa.int8(), pa.string())) == "string"
    assert render(of_arrow(pa.map_(pa.string(), pa.int64()))) == "map<string,bigint>"


def test_parquet_promotions_that_engines_read() -> None:
    assert parquet_reads_as("int", "bigint")
    assert parquet_reads_as("float", "double")
    assert parquet_reads_as("struct<a:int>", "struct<a:bigint,b:string>")
    assert not parquet_reads_as("bigint", "string")
    assert not parquet_reads_as("bigint", "int")
    assert not parquet_reads_as("double", "bigint")


def test_json_inference_counts_bad_lines_and_refuses_arrays() -> None:
    text = '{"id": 1, "amount": 2.5}\nnot json\n{"id": 2, "amount": "3.00", "Channel": "web"}\n'
    columns, records, notes, stopped = infer_json(text, "k", BUDGET)
    assert records == 2 and not stopped
    assert {k: render(v) for k, v in columns.types.items()} == {
        "id": "bigint",
        "amount": "string",
        "channel": "string",
    }
    assert [(w.column, w.before, w.seen, w.after) for w in columns.widenings] == [
        ("amount", "double", "string", "string")
    ]
    assert "1 of 3 sampled lines are not JSON objects (first: line 2)" in notes[0]
    with pytest.raises(UnreadableFileError, match="JSON array document"):
        infer_json('[{"id": 1}]', "k", BUDGET)
    with pytest.raises(UnreadableFileError, match="no JSON object"):
        infer_json("garbage\nmore garbage\n", "k", BUDGET)


def test_json_inference_stops_at_the_record_budget() -> None:
    lines = [json.dumps({"id": i}) for i in range(50)] + [json.dumps({"id": 51, "late": "x"})]
    columns, records, _, stopped = infer_json(
        "\n".join(lines), "k", SamplingBudget(records_per_file=50)
    )
    assert records == 50 and stopped and "late" not in columns.types


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", "bigint"),
        ("-3.5", "double"),
        ("1e3", "double"),
        ("TRUE", "boolean"),
        ("", None),
        ("2024-01-05", "string"),
        ("12a", "string"),
    ],
)
def test_csv_values_are_typed_by_what_they_parse_as(value: str, expected: str | None) -> None:
    assert csv_value_type(value) == expected


def test_csv_header_is_detected_and_explained() -> None:
    columns, records, layout, notes = infer_csv(
        "Customer ID;name;score\n1;Ann;2.5\n2;Bob;3\n", "k", BUDGET
    )
    assert layout.header and layout.delimiter == ";" and records == 2
    assert {k: render(v) for k, v in columns.types.items()} == {
        "customer_id": "bigint",
        "name": "string",
        "score": "double",
    }
    assert notes[0].startswith("header: the first row (Customer ID,name,score) is all text")
    assert "'Customer ID' -> customer_id" in notes[1]


def test_csv_without_header_gets_glue_column_names() -> None:
    columns, records, layout, notes = infer_csv("1,Ann,2.5\n2,Bob,3\n", "k", BUDGET)
    assert not layout.header and records == 2
    assert list(columns.types) == ["col0", "col1", "col2"]
    assert notes[0].startswith("no header: the first row (1,Ann,2.5) has empty, numeric")


def test_file_formats_come_from_names() -> None:
    assert file_format("a/sales_20240105_020000.json.gz") == ("json", "gzip")
    assert file_format("a/part-0000-abc.c000.snappy.parquet") == ("parquet", "")
    assert file_format("a/x.csv") == ("csv", "none")
    assert file_format("a/x.txt") is None


def test_sampling_order_starts_with_the_newest_file() -> None:
    assert sample_order(["a", "b", "c", "d", "e"]) == ["e", "a", "d", "b", "c"]


def test_table_names_follow_the_zone() -> None:
    assert table_name_for("raw", "sales") == "raw_sales"
    assert table_name_for("processed", "sales_clean") == "sales_clean"
    assert table_name_for("curated", "customer_aggregates") == "customer_aggregates"
    assert table_name_for("quarantine", "sales_clean") == "quarantine_sales_clean"
    with pytest.raises(InvalidNameError):
        table_name_for("raw", "Sales-Data")


def test_partition_filters() -> None:
    values = {"year": "2024", "month": "01", "day": "05"}
    assert match_partition(values, None)
    assert match_partition(values, {"year": "2024"})
    assert match_partition(values, {"month": ["01", "02"]})
    assert not match_partition(values, {"month": ["03"]})
    assert match_partition(values, lambda v: v["day"] >= "05")
    assert not match_partition(values, lambda v: v["day"] > "05")


def _table(**changes: object) -> Table:
    base = {
        "database": "data_lake_db",
        "name": "raw_sales",
        "columns": (Column("id", "bigint"), Column("amount", "double")),
        "partition_keys": ("year", "month", "day"),
        "location": "/lake/raw/sales",
        "classification": "json",
        "compression": "gzip",
    }
    base.update(changes)
    return Table(**base)  # type: ignore[arg-type]


def test_model_refuses_inconsistent_tables() -> None:
    with pytest.raises(CatalogError, match="duplicate columns year"):
        _table(columns=(Column("year", "string"),))
    with pytest.raises(CatalogError, match="classification"):
        _table(classification="xml")
    with pytest.raises(CatalogError, match="lower case"):
        Column("Amount", "double")
    with pytest.raises(CatalogError, match="partitioned by year, month, day"):
        _table().partition({"year": "2024"})
    part = _table().partition({"day": "05", "year": "2024", "month": "01"})
    assert part == Partition(
        {"year": "2024", "month": "01", "day": "05"}, "/lake/raw/sales/year=2024/month=01/day=05"
    )
    assert part.spec == "year=2024/month=01/day=05"


def test_diff_says_what_changed() -> None:
    old = _table().with_version(3)
    assert diff_tables(old, _table()).action == "unchanged"
    wider = _table(
        columns=(Column("id", "bigint"), Column("amount", "string"), Column("channel", "string"))
    )
    change = diff_tables(old, wider)
    assert (change.action, change.version) == ("updated", 4)
    assert change.lines() == ["added column channel", "column amount: double -> string"]
    moved = diff_tables(old, _table(location="/elsewhere"))
    assert (moved.action, moved.version) == ("updated", 3)  # not a schema change
    assert moved.lines() == ["location: /lake/raw/sales -> /elsewhere"]
