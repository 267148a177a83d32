"""Schema inference from a sample of one file: JSON lines (gzip too), CSV, Parquet footers.

Reads go through the :class:`~lakelib.storage.Store` interface, so the same code samples a
local lake and S3; only the first ``bytes_per_file`` bytes of a text file are fetched (a
ranged GET on S3), and only the footer of a Parquet file.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from lakelib.catalog._types import HiveType, of_arrow, of_value, render, widen
from lakelib.storage import Store


@dataclass(frozen=True)
class SamplingBudget:
    """How much of a zone the crawler reads.

    Parameters
    ----------
    files_per_partition:
        files sampled in each partition folder: the newest (last by key) first, then the
        oldest, then inwards; an unreadable file lets one more be tried, up to twice this.
    bytes_per_file:
        bytes of text read from the start of a JSON or CSV file (after gunzip).
    records_per_file:
        JSON lines or CSV rows parsed per file.
    footer_bytes:
        first read from the end of a Parquet file; a larger footer costs one more read.
    """

    files_per_partition: int = 2
    bytes_per_file: int = 1 << 20
    records_per_file: int = 1000
    footer_bytes: int = 64 << 10


class UnreadableFileError(Exception):
    """A sampled file could not be read; the message is the one-line reason."""


@dataclass
class Widening:
    """A column whose type changed when more evidence came in."""

    column: str
    before: str
    seen: str
    after: str
    where: str


class SchemaAccumulator:
    """Column types in first-seen order, widened as evidence comes in, with the evidence."""

    def __init__(self) -> None:
        self.types: dict[str, HiveType] = {}
        self.first_seen: dict[str, str] = {}
        self.widenings: list[Widening] = []

    def add(self, name: str, seen: HiveType, where: str) -> None:
        if name not in self.types:
            self.types[name] = seen
            self.first_seen[name] = where
            return
        before = self.types[name]
        after = widen(before, seen)
        if before is None:
            self.types[name] = after
            self.first_seen[name] = where
        elif after != before:
            self.types[name] = after
            self.widenings.append(
                Widening(name, render(before), render(seen), render(after), where)
            )

    def merge(self, other: SchemaAccumulator) -> None:
        for name, seen in other.types.items():
            self.add(name, seen, other.first_seen[name])


@dataclass
class CsvLayout:
    delimiter: str
    header: bool
    quoted: bool


@dataclass
class FileSchema:
    """What one sampled file says about its table."""

    key: str
    classification: str
    compression: str
    columns: SchemaAccumulator
    records: int
    truncated: bool = False
    csv: CsvLayout | None = None
    notes: list[str] = field(default_factory=list)


# -- formats -------------------------------------------------------------------------------

_FORMATS = (
    ((".json.gz", ".jsonl.gz", ".ndjson.gz"), "json", "gzip"),
    ((".json", ".jsonl", ".ndjson"), "json", "none"),
    ((".csv.gz", ".tsv.gz"), "csv", "gzip"),
    ((".csv", ".tsv"), "csv", "none"),
    ((".parquet", ".parq"), "parquet", ""),
)


def file_format(key: str) -> tuple[str, str] | None:
    """``(classification, compression)`` from a file name, or ``None`` if unknown.

    Parquet's compression is read from its footer (``""`` here).
    """
    name = key.rsplit("/", 1)[-1].lower()
    for suffixes, classification, compression in _FORMATS:
        if name.endswith(suffixes):
            return classification, compression
    return None


def extension(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name[name.find(".") :] if "." in name else "(none)"


# -- ranged reads --------------------------------------------------------------------------


def read_head(store: Store, key: str, size: int, limit: int) -> bytes:
    """The first ``limit`` bytes of an object (a ranged read)."""
    if size <= limit:
        return store.read_bytes(key)
    return store.read_range(key, 0, limit)


def read_tail(store: Store, key: str, size: int, limit: int) -> bytes:
    """The last ``limit`` bytes of an object."""
    if size <= limit:
        return store.read_bytes(key)
    return store.read_range(key, size - limit, size)


def _gunzip_head(raw: bytes, whole: bool, budget: SamplingBudget) -> tuple[bytes, bool]:
    """Inflate only as much as the budget needs: stop at ``records_per_file`` lines."""
    inflater = zlib.decompressobj(wbits=31)
    chunks: list[bytes] = []
    total = lines = 0
    pending = raw
    try:
        while total < budget.bytes_per_file and not inflater.eof:
            piece = inflater.decompress(pending, min(64 << 10, budget.bytes_per_file - total))
            pending = inflater.unconsumed_tail
            if not piece:
                break
            chunks.append(piece)
            total += len(piece)
            lines += piece.count(b"\n")
            if lines > budget.records_per_file:
                break
    except zlib.error as exc:
        raise UnreadableFileError(f"not a valid gzip file ({exc})") from exc
    stopped_by_budget = total >= budget.bytes_per_file or lines > budget.records_per_file
    if not inflater.eof and whole and not pending and not stopped_by_budget:
        raise UnreadableFileError("gzip stream is truncated (the file is cut short)")
    return b"".join(chunks), not inflater.eof


def _text(
    store: Store, key: str, size: int, compression: str, budget: SamplingBudget
) -> tuple[str, bool]:
    """Decoded text of the head of a file and whether the sample stops before its end."""
    if compression == "gzip":
        # Compressed bytes are never more than the text they expand to (bar a few bytes of
        # header), so this read is enough for ``bytes_per_file`` of text.
        raw = read_head(store, key, size, budget.bytes_per_file + 1024)
        data, truncated = _gunzip_head(raw, len(raw) >= size, budget)
    else:
        data = read_head(store, key, size, budget.bytes_per_file)
        truncated = size > len(data)
    if truncated:
        # Drop the partial last line: the sample ends at a record boundary.
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else b""
    try:
        return data.decode("utf-8-sig"), truncated
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(f"not UTF-8 text (byte {exc.start})") from exc


# -- JSON lines ----------------------------------------------------------------------------


_SIMPLE: dict[type, HiveType] = {str: "string", bool: "boolean", float: "double", type(None): None}


def _loads_or_none(line: str) -> object:
    try:
        return json.loads(line)
    except ValueError:
        return None


def infer_json(
    text: str, key: str, budget: SamplingBudget
) -> tuple[SchemaAccumulator, int, list[str], bool]:
    """Column types from JSON lines; a line that is not an object is counted, not fatal."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        raise UnreadableFileError(
            "a JSON array document, not JSON lines (Athena's JSON SerDe reads one object per line)"
        )
    lines: list[tuple[int, str]] = []
    stopped = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if len(lines) >= budget.records_per_file:
                stopped = True
                break
            lines.append((number, line))
    try:
        # One C-level parse for the whole sample; per-line only when some line is broken.
        values = json.loads("[" + ",".join(line for _n, line in lines) + "]")
    except ValueError:
        values = [_loads_or_none(line) for _n, line in lines]
    columns = SchemaAccumulator()
    types = columns.types
    lowered: dict[str, str] = {}
    records = bad = first_bad = 0
    for (number, _line), value in zip(lines, values, strict=True):
        if not isinstance(value, dict):
            bad += 1
            first_bad = first_bad or number
            continue
        records += 1
        for raw_name, item in value.items():
            name = lowered.get(raw_name)
            if name is None:
                name = lowered[raw_name] = str(raw_name).lower()
            kind = type(item)
            seen = _SIMPLE[kind] if kind in _SIMPLE else of_value(item)
            # Fast path: most values repeat the type already recorded for their column.
            if name in types and (seen is None or types[name] == seen):
                continue
            columns.add(name, seen, key)
    notes = []
    if bad and not records:
        raise UnreadableFileError(f"no JSON object on any of {bad} sampled lines")
    if bad:
        notes.append(
            f"{bad} of {records + bad} sampled lines are not JSON objects (first: line {first_bad})"
        )
    return columns, records, notes, stopped


# -- CSV -----------------------------------------------------------------------------------

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]*")


def csv_value_type(text: str) -> HiveType:
    """The type one CSV field reads as: empty is null, then integer, number, boolean, text."""
    value = text.strip()
    if not value:
        return None
    if _INT.fullmatch(value):
        return "bigint" if -(2**63) <= int(value) < 2**63 else "string"
    if _FLOAT.fullmatch(value):
        return "double"
    if value.lower() in {"true", "false"}:
        return "boolean"
    return "string"


def _column_name(raw: str, position: int) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", raw.strip().lower()).strip("_")
    return name or f"col{position}"


def infer_csv(
    text: str, key: str, budget: SamplingBudget
) -> tuple[SchemaAccumulator, int, CsvLayout, list[str]]:
    """Column types and layout (delimiter, header, quoting) of a CSV sample."""
    sample = text[: 64 << 10]
    if key.lower().endswith((".tsv", ".tsv.gz")):
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows = []
    for row in csv.reader(io.StringIO(text), delimiter=delimiter):
        if row and any(cell.strip() for cell in row):
            rows.append(row)
        if len(rows) > budget.records_per_file:
            break
    if not rows:
        raise UnreadableFileError("no CSV rows")
    quoted = '"' in sample
    first, data = rows[0], rows[1:]
    width = len(first)
    by_position: list[HiveType] = [None] * width
    for row in data:
        for i, cell in enumerate(row[:width]):
            by_position[i] = widen(by_position[i], csv_value_type(cell))
    header, why = _decide_header(first, data, by_position)
    notes = [why]
    names = (
        [_column_name(cell, i) for i, cell in enumerate(first)]
        if header
        else [f"col{i}" for i in range(width)]
    )
    if header:
        renamed = [
            f"{cell!r} -> {name}" for cell, name in zip(first, names, strict=True) if cell != name
        ]
        if renamed:
            notes.append("header names normalised: " + ", ".join(renamed))
    columns = SchemaAccumulator()
    body = data if header else rows
    for i, name in enumerate(names):
        seen: HiveType = None
        for row in body:
            if i < len(row):
                seen = widen(seen, csv_value_type(row[i]))
        columns.add(name, seen, key)
    ragged = sum(1 for row in body if len(row) != width)
    if ragged:
        notes.append(f"{ragged} of {len(body)} sampled rows do not have {width} fields")
    return columns, len(body), CsvLayout(delimiter, header, quoted), notes


def _decide_header(
    first: list[str], data: list[list[str]], below: list[HiveType]
) -> tuple[bool, str]:
    shown = ",".join(first)
    first_types = [csv_value_type(cell) for cell in first]
    if any(t not in ("string",) for t in first_types):
        return False, f"no header: the first row ({shown}) has empty, numeric or boolean fields"
    if len({cell.strip().lower() for cell in first}) != len(first):
        return False, f"no header: the first row ({shown}) repeats a value"
    typed = [
        f"{cell} ({render(t)})"
        for cell, t in zip(first, below, strict=False)
        if t is not None and t != "string"
    ]
    if typed:
        return True, (
            f"header: the first row ({shown}) is all text while the rows below hold "
            f"typed values in {', '.join(typed[:3])}"
        )
    if all(_IDENTIFIER.fullmatch(cell.strip()) for cell in first):
        return True, (
            f"header: every column is text, and the first row ({shown}) is unique names "
            "that look like identifiers"
        )
    return (
        False,
        f"no header: every column is text and the first row ({shown}) does not look like names",
    )


# -- Parquet -------------------------------------------------------------------------------


def infer_parquet(
    store: Store, key: str, size: int, budget: SamplingBudget
) -> tuple[SchemaAccumulator, int, str]:
    """Column types, row count and compression from the Parquet footer alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if size < 12:
        raise UnreadableFileError(f"too small for Parquet ({size} bytes)")
    tail = read_tail(store, key, size, budget.footer_bytes)
    if tail[-4:] != b"PAR1":
        raise UnreadableFileError("corrupt Parquet footer (no PAR1 magic at the end)")
    (length,) = struct.unpack("<I", tail[-8:-4])
    if length + 12 > size:
        raise UnreadableFileError(f"corrupt Parquet footer (length {length} > file size {size})")
    if length + 8 > len(tail):
        tail = read_tail(store, key, size, length + 8)
    try:
        # The footer alone, behind a fake header, is all pyarrow needs for the schema.
        handle = pq.ParquetFile(io.BytesIO(b"PAR1" + tail[-(length + 8) :]))
        schema, meta = handle.schema_arrow, handle.metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableFileError(f"corrupt Parquet footer ({exc})") from exc
    columns = SchemaAccumulator()
    for item in schema:
        columns.add(item.name.lower(), of_arrow(item.type), key)
    compression = "none"
    if meta.num_row_groups and meta.num_columns:
        codec = str(meta.row_group(0).column(0).compression).lower()
        compression = "none" if codec == "uncompressed" else codec
    return columns, meta.num_rows, compression


# -- one file ------------------------------------------------------------------------------


def infer_file(store: Store, key: str, size: int, budget: SamplingBudget) -> FileSchema:
    """Sample one file within the budget; raises :class:`UnreadableFileError`."""
    from lakelib.errors import StorageError

    found = file_format(key)
    if found is None:
        raise UnreadableFileError(f"unknown file format {extension(key)}")
    classification, compression = found
    try:
        if classification == "parquet":
            columns, records, codec = infer_parquet(store, key, size, budget)
            return FileSchema(key, "parquet", codec, columns, records)
        if size == 0:
            return FileSchema(
                key, classification, compression, SchemaAccumulator(), 0, notes=["empty file"]
            )
        text, truncated = _text(store, key, size, compression, budget)
        if classification == "json":
            columns, records, notes, stopped = infer_json(text, key, budget)
            cut = truncated or stopped
            return FileSchema(key, "json", compression, columns, records, cut, notes=notes)
        columns, records, layout, notes = infer_csv(text, key, budget)
        return FileSchema(key, "csv", compression, columns, records, truncated, layout, notes)
    except StorageError as exc:
        raise UnreadableFileError(str(exc)) from exc
    except OSError as exc:
        raise UnreadableFileError(exc.strerror or str(exc)) from exc


def sample_order(keys: Iterable[str]) -> list[str]:
    """Newest (last by key) first, then oldest, then inwards: new columns show up first."""
    ordered = sorted(keys)
    result = []
    low, high = 0, len(ordered) - 1
    while low <= high:
        result.append(ordered[high])
        if low != high:
            result.append(ordered[low])
        low, high = low + 1, high - 1
    return result
