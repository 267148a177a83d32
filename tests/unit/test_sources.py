"""Reading files: formats, header detection and every kind of bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakelib.errors import IngestError
from lakelib.sources import FileSource, Item, csv_header, detect_format


def read_all(location: Path | str, **options: object) -> list[Item]:
    items: list[Item] = []
    for unit in FileSource(location, **options).units():  # type: ignore[arg-type]
        for batch in unit.batches(3):
            assert len(batch) <= 3
            items.extend(batch)
    return items


def test_json_lines_plain_and_gzip_give_the_same_records(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "v": "x" * i}) for i in range(7)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n\n")
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines)).encode()))
    plain = read_all(tmp_path / "a.jsonl")
    zipped = read_all(tmp_path / "b.jsonl.gz")
    assert [i.record for i in plain] == [i.record for i in zipped] == [json.loads(x) for x in lines]
    assert [i.position for i in plain] == list(range(1, 8))


def test_json_array_is_streamed(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"id": 1, "amount": 1.5}, {"id": 2}, 3]))
    items = read_all(tmp_path / "a.json")
    assert [i.record for i in items[:2]] == [{"id": 1, "amount": 1.5}, {"id": 2}]
    assert items[2].record is None and items[2].error is not None
    assert items[2].error.startswith("not_an_object")


def test_broken_json_array_keeps_what_parsed_and_quarantines_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"id": 1}, {"id": 2}, {"id": ')
    items = read_all(tmp_path / "a.json")
    assert [i.record for i in items[:2]] == [{"id": 1}, {"id": 2}]
    assert items[2].error is not None and items[2].error.startswith("malformed_json")
    assert items[2].raw == b'[{"id": 1}, {"id": 2}, {"id": '


def test_parquet(tmp_path: Path) -> None:
    table = pa.table({"id": ["a", "b"], "amount": [1.5, None]})
    pq.write_table(table, tmp_path / "t.parquet")
    assert [i.record for i in read_all(tmp_path / "t.parquet")] == [
        {"id": "a", "amount": 1.5},
        {"id": "b", "amount": None},
    ]


def test_folder_and_glob_expand_to_sorted_visible_files(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.jsonl", ".hidden.jsonl", "_SUCCESS"):
        (tmp_path / name).write_text(json.dumps({"f": name}) + "\n")
    origins = [u.origin for u in FileSource(tmp_path).units()]
    assert origins == ["a.jsonl", "b.jsonl"]
    assert [u.origin for u in FileSource(str(tmp_path / "*.jsonl")).units()] == [
        "a.jsonl",
        "b.jsonl",
    ]


def test_csv_header_detection_with_all_string_columns(tmp_path: Path) -> None:
    # csv.Sniffer cannot tell here: every column is text in every row.
    (tmp_path / "c.csv").write_text("code,name,city\nab,Anna,Oslo\ncd,Bo,Rome\n")
    items = read_all(tmp_path / "c.csv")
    assert [i.record for i in items] == [
        {"code": "ab", "name": "Anna", "city": "Oslo"},
        {"code": "cd", "name": "Bo", "city": "Rome"},
    ]


def test_headerless_csv_takes_names_from_the_contract(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("P1,books,12.50\nP2,toys,3\n")
    items = read_all(tmp_path / "c.csv", csv_fields=["product_id", "category", "unit_price"])
    assert items[0].record == {"product_id": "P1", "category": "books", "unit_price": "12.50"}
    assert len(items) == 2


def test_header_decision_rules() -> None:
    assert csv_header([["id", "amount"], ["1", "2"]], ["id", "amount", "date"]) == (
        ["id", "amount"],
        True,
    )
    # A first row of data that repeats in its column is not a header.
    assert csv_header([["north", "x"], ["north", "y"]])[1] is False
    assert csv_header([["1", "2"], ["3", "4"]]) == (["col_1", "col_2"], False)


def test_ragged_csv_rows_and_latin1_bytes_fail_alone(tmp_path: Path) -> None:
    data = b"id,name\n1,ok\n2,too,many\n3\n" + "4,caf\u00e9\n".encode("latin-1") + b"5,fine\n"
    (tmp_path / "r.csv").write_bytes(data)
    items = read_all(tmp_path / "r.csv")
    assert [i.record for i in items if i.error is None] == [
        {"id": "1", "name": "ok"},
        {"id": "5", "name": "fine"},
    ]
    errors = [i.error.split(":")[0] for i in items if i.error]
    assert errors == ["ragged_row", "ragged_row", "bad_encoding"]
    assert items[1].raw == "2,too,many"
    assert items[3].raw == "4,caf\u00e9".encode("latin-1")


def test_bad_lines_in_json_lines(tmp_path: Path) -> None:
    huge = b'{"id": "' + b"x" * (20 * 1024 * 1024) + b'"}'  # a 20 MB single line
    data = (
        b'{"id": 1}\n{"id": \n[1, 2]\n'
        + '{"name": "caf\u00e9"}'.encode("latin-1")
        + b"\n"
        + huge
        + b"\n"
    )
    (tmp_path / "bad.jsonl").write_bytes(data)
    items = read_all(tmp_path / "bad.jsonl")
    assert items[0].record == {"id": 1}
    codes = [i.error.split(":")[0] for i in items[1:] if i.error]
    assert codes == ["malformed_json", "not_an_object", "bad_encoding", "too_large"]
    assert items[4].raw == huge  # the original is kept whole


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x00\x01\x02binary\xff" * 100, "x.jsonl", "looks binary"),
        (b"\x1f\x8bnot really gzip", "x.jsonl.gz", "gzip"),
        (b"PAR1 garbage", "x.parquet", "not a readable Parquet file"),
        (b"hello", "x.txt", "cannot tell the format"),
    ],
)
def test_unreadable_files_are_one_clear_error(
    tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(IngestError, match=message):
        read_all(tmp_path / name)


def test_missing_locations(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file or folder"):
        read_all(tmp_path / "nope.jsonl")
    with pytest.raises(IngestError, match="no files match"):
        read_all(str(tmp_path / "*.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match="no files in folder"):
        read_all(tmp_path / "empty")


def test_format_detection(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"a": 1}\n{"a": 2}\n')
    assert detect_format(tmp_path / "a.json") == "jsonl"
    (tmp_path / "noext").write_text('[{"a": 1}]')
    assert detect_format(tmp_path / "noext") == "json"
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert detect_format(tmp_path / "c.csv.gz") == "csv"


BOM = b"\xef\xbb\xbf"
RECORDS = [{"id": "A1", "amount": "12.50"}, {"id": "A2", "amount": "3"}]


def _encoded(fmt: str) -> bytes:
    if fmt == "jsonl":
        return b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS)
    if fmt == "json":
        return json.dumps(RECORDS, indent=2).encode()
    # What a spreadsheet's "CSV UTF-8" export writes: a BOM, CRLF line ends.
    return b"id,amount\r\n" + b"".join(f"{r['id']},{r['amount']}\r\n".encode() for r in RECORDS)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_utf8_byte_order_mark_is_not_part_of_the_data(
    tmp_path: Path, fmt: str, compressed: bool
) -> None:
    data = BOM + _encoded(fmt)
    name = f"export.{fmt}" + (".gz" if compressed else "")
    (tmp_path / name).write_bytes(gzip.compress(data) if compressed else data)
    items = read_all(tmp_path / name)
    assert [i.error for i in items] == [None, None]
    # Same records, same field names (not "\ufeffid", not col_1) as the file without a BOM.
    assert [i.record for i in items] == RECORDS
    assert [i.position for i in items] == ([2, 3] if fmt == "csv" else [1, 2])


def test_the_format_of_a_file_with_a_bom_is_still_recognised(tmp_path: Path) -> None:
    (tmp_path / "array.txt").write_bytes(BOM + b'[{"id": 1}]')
    (tmp_path / "lines.txt").write_bytes(BOM + b'{"id": 1}\n{"id": 2}\n')
    (tmp_path / "lines.json").write_bytes(BOM + b'{"id": 1}\n{"id": 2}\n')
    assert detect_format(tmp_path / "array.txt") == "json"
    assert detect_format(tmp_path / "lines.txt") == "jsonl"
    assert detect_format(tmp_path / "lines.json") == "jsonl"
    assert [i.record for i in read_all(tmp_path / "array.txt")] == [{"id": 1}]


def test_json_lines_concatenated_from_files_with_boms(tmp_path: Path) -> None:
    part = BOM + b'{"id": 1}\n'
    (tmp_path / "cat.jsonl").write_bytes(part + part.replace(b"1", b"2"))
    assert [i.record for i in read_all(tmp_path / "cat.jsonl")] == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (BOM + json.dumps(RECORDS).encode(), "application/json"),
        (BOM + b"\n".join(json.dumps(r).encode() for r in RECORDS), "application/x-ndjson"),
        (BOM + b"\n".join(json.dumps(r).encode() for r in RECORDS), ""),
        (BOM + json.dumps(RECORDS).encode(), ""),
    ],
    ids=["json", "ndjson", "untyped-lines", "untyped-array"],
)
def test_a_posted_body_with_a_bom(body: bytes, ctype: str) -> None:
    from lakelib.sources import PayloadSource

    (unit,) = PayloadSource(body, "webhook:test", ctype).units()
    items = [item for batch in unit.batches() for item in batch]
    assert [i.record for i in items] == RECORDS


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://api.example.com/v1/sales?api_key=abc123&page=2",
            "https://api.example.com/v1/sales?api_key=***&page=2",
        ),
        ("https://user:pa55@host/x", "https://user:***@host/x"),
        ("https://ghp_abcdef@host/x", "https://***@host/x"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=f00d&x=1",
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&x=1",
        ),
        ("https://h/cb#access_token=tok&state=s", "https://h/cb#access_token=***&state=s"),
        ("https://h/x?cursor=40&sig=abc&token=", "https://h/x?cursor=40&sig=***&token="),
        ("https://h:8443/path?email=a@b.example", "https://h:8443/path?email=a@b.example"),
        ("https://h/books?author=x&auth=y", "https://h/books?author=x&auth=***"),
        (
            "GET /sales?apiKey=k1 failed: Max retries exceeded with url: /sales?apiKey=k1",
            "GET /sales?apiKey=*** failed: Max retries exceeded with url: /sales?apiKey=***",
        ),
    ],
)
def test_redact_url_masks_credentials_and_keeps_the_rest(url: str, shown: str) -> None:
    from lakelib.sources import redact_url

    assert redact_url(url) == shown
    assert redact_url(shown) == shown


def test_a_sql_origin_hides_password_and_credential_parameters() -> None:
    from lakelib.sources import redact

    shown = redact("postgresql://app:s3cret@db.internal:5432/shop?sslmode=require&password=x2")
    assert "s3cret" not in shown and "x2" not in shown
    assert shown.startswith("postgresql://app:***@db.internal:5432/shop?")


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_pretty_printed_json_object_is_one_document(tmp_path: Path, compressed: bool) -> None:
    def write(name: str, value: object) -> Path:
        data = BOM + json.dumps(value, indent=2).encode()
        path = tmp_path / (name + (".gz" if compressed else ""))
        path.write_bytes(gzip.compress(data) if compressed else data)
        return path

    # An API export: the records under "data", next to paging metadata.
    export = write("export.json", {"meta": {"items": [0]}, "data": [*RECORDS, 7], "next": None})
    assert detect_format(export) == "json"
    items = read_all(export)
    assert [i.record for i in items[:2]] == RECORDS
    assert items[2].error == "not_an_object: array element is not an object"
    # One object and nothing else: it is the one record.
    single = write("one.json", RECORDS[0])
    assert [(i.record, i.position) for i in read_all(single)] == [(RECORDS[0], 1)]


def test_json_lines_in_a_json_file_stay_json_lines_even_with_a_bad_first_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "dirty.json").write_bytes(b'{"id": 1,\n{"id": 2}\n{"id": 3}\n')
    assert detect_format(tmp_path / "dirty.json") == "jsonl"
    items = read_all(tmp_path / "dirty.json")
    assert [i.record for i in items] == [None, {"id": 2}, {"id": 3}]
