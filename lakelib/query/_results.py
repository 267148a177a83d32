"""The result location: ``query-results/<workgroup>/<query_id>.csv`` plus its metadata JSON.

Like Athena, every query gets an id and a record. The record
(``<query_id>.metadata.json``) is written ``RUNNING`` when the query starts and rewritten
``SUCCEEDED``, ``FAILED`` or ``CANCELLED`` when it ends, with the SQL, timings, bytes
scanned and price. The CSV is written (atomically) only after the query succeeded, before
the final record: a failed, cut-off or cancelled query never leaves a CSV behind.

CSV is Athena's: a header, every value double-quoted, NULL as an empty unquoted field;
arrays as ``[1, 2]``, maps and rows as ``{k=v, ...}`` (Trino's text form).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lakelib.config import Settings, Zone
from lakelib.errors import LakeError, NotFoundError, StorageError
from lakelib.storage import LocalStore, Store, zone_store

PRICE_PER_TB_USD = 5.0
_TB = 10**12
_MB = 10**6
MINIMUM_BILLED_BYTES = 10 * _MB

STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
CUTOFF_MESSAGE = "Query cancelled! : Bytes scanned limit was exceeded"


def scan_cost_usd(bytes_scanned: int) -> float:
    """Athena's price of a scan: $5 per TB (10^12 bytes), rounded up to the next MB
    (10^6 bytes) with a 10 MB minimum per query that scanned anything.

    >>> scan_cost_usd(0), scan_cost_usd(1), round(scan_cost_usd(10**12), 6)
    (0.0, 5e-05, 5.0)
    """
    if bytes_scanned <= 0:
        return 0.0
    billed = max(MINIMUM_BILLED_BYTES, math.ceil(bytes_scanned / _MB) * _MB)
    return billed / _TB * PRICE_PER_TB_USD


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class QueryRecord:
    """One query's metadata, as written next to its result (and listed by ``--history``)."""

    query_id: str
    workgroup: str
    database: str
    engine: str
    sql: str
    state: str = "RUNNING"
    state_reason: str = ""
    translated_sql: str = ""
    params: list[Any] = field(default_factory=list)
    submitted_at: str = ""
    completed_at: str = ""
    planning_ms: float = 0.0
    execution_ms: float = 0.0
    total_ms: float = 0.0
    bytes_scanned: int = 0
    cost_usd: float = 0.0
    rows: int = 0
    output_location: str = ""
    scans: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_json_default) + "\n"

    @classmethod
    def from_json(cls, text: str) -> QueryRecord:
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class ResultLocation:
    """Results and records of the local engine under the query-results zone."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or zone_store(Zone.QUERY_RESULTS, settings)

    def csv_key(self, workgroup: str, query_id: str) -> str:
        return f"{workgroup}/{query_id}.csv"

    def metadata_key(self, workgroup: str, query_id: str) -> str:
        return f"{workgroup}/{query_id}.metadata.json"

    def _write(self, key: str, data: bytes) -> None:
        if isinstance(self.store, LocalStore):
            # Results and records are derived data: atomic (temp file + rename, readers never
            # see half a file) but not fsynced, which would cost more than the query itself
            # on small results. A power cut can lose the last few; the lake is untouched.
            path = self.store.path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}-{threading.get_ident()}")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
            return
        self.store.write_bytes(key, data)

    def write_record(self, record: QueryRecord) -> None:
        self._write(self.metadata_key(record.workgroup, record.query_id), record.to_json().encode())

    def write_csv(self, workgroup: str, query_id: str, table: pa.Table) -> str:
        key = self.csv_key(workgroup, query_id)
        self._write(key, render_csv(table, quote_all=True))
        return self.store.url(key)

    def discard_csv(self, workgroup: str, query_id: str) -> None:
        with contextlib.suppress(LakeError):
            self.store.delete(self.csv_key(workgroup, query_id))

    def records(self, workgroup: str | None = None) -> Iterator[QueryRecord]:
        prefix = f"{workgroup}/" if workgroup else ""
        for info in self.store.list(prefix):
            if not info.key.endswith(".metadata.json"):
                continue
            try:
                yield QueryRecord.from_json(self.store.read_bytes(info.key).decode())
            except (NotFoundError, ValueError, TypeError):
                continue

    def history(self, limit: int = 20, workgroup: str | None = None) -> list[QueryRecord]:
        """The most recent records first."""
        found = sorted(self.records(workgroup), key=lambda r: r.submitted_at, reverse=True)
        return found[:limit]


# -- rendering ----------------------------------------------------------------------------


def trino_text(value: Any) -> str:
    """A value in Trino's text form (what Athena writes into result CSVs)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{trino_text(k)}={trino_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            # A MAP arrives from Arrow as a list of (key, value) pairs.
            return "{" + ", ".join(f"{trino_text(k)}={trino_text(v)}" for k, v in value) + "}"
        return "[" + ", ".join(trino_text(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="milliseconds").replace("+00:00", " UTC")
    return str(value)


def textual(table: pa.Table) -> pa.Table:
    """Nested, binary and timestamp columns turned into Trino's text; others unchanged."""
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind):
            values = [None if v is None else trino_text(v) for v in column.to_pylist()]
            column = pa.chunked_array([pa.array(values, pa.string())])
        elif pa.types.is_timestamp(kind):
            column = pa.chunked_array(
                [
                    pa.array(
                        [None if v is None else trino_text(v) for v in column.to_pylist()],
                        pa.string(),
                    )
                ]
            )
        elif pa.types.is_decimal(kind):
            column = pc.cast(column, pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def render_csv(table: pa.Table, *, quote_all: bool) -> bytes:
    """CSV bytes: a header line, then one line per row."""
    if table.num_columns == 0:
        return b""
    if quote_all:
        buffer = io.BytesIO()
        options = pacsv.WriteOptions(include_header=True, quoting_style="all_valid")
        pacsv.write_csv(textual(table), buffer, write_options=options)
        return buffer.getvalue()
    # Plain CSV (the CLI's stdout): quotes only where a value needs them, NULL empty.
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(table.column_names)
    plain = textual(table)
    columns = [plain.column(i).to_pylist() for i in range(plain.num_columns)]
    for row in zip(*columns, strict=True):
        writer.writerow(["" if v is None else _plain(v) for v in row])
    return text.getvalue().encode()


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_json(table: pa.Table) -> str:
    """A JSON array of row objects (dates ISO, decimals as strings)."""
    rows = table.to_pylist()
    return json.dumps(rows, default=_json_default, ensure_ascii=False)


@dataclass
class QueryResult:
    """A finished query: its rows and its record.

    ``table`` is a :class:`pyarrow.Table`; :meth:`to_pandas` (or :attr:`df`) gives a DataFrame.
    """

    table: pa.Table
    record: QueryRecord

    @property
    def query_id(self) -> str:
        return self.record.query_id

    @property
    def bytes_scanned(self) -> int:
        return self.record.bytes_scanned

    @property
    def cost_usd(self) -> float:
        return self.record.cost_usd

    @property
    def output_location(self) -> str:
        return self.record.output_location

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    @property
    def df(self) -> Any:
        return self.to_pandas()

    def __len__(self) -> int:
        return self.table.num_rows


@dataclass
class Explanation:
    """What a query would read and cost, without running it (``lake query --explain``)."""

    sql: str
    translated_sql: str
    engine: str
    workgroup: str
    bytes_scanned: int
    cost_usd: float
    bytes_scanned_cutoff: int | None
    scans: list[dict[str, Any]] = field(default_factory=list)

    @property
    def within_cutoff(self) -> bool:
        return self.bytes_scanned_cutoff is None or self.bytes_scanned <= self.bytes_scanned_cutoff

    def lines(self) -> list[str]:
        out = [f"engine: {self.engine}   workgroup: {self.workgroup}"]
        for scan in self.scans:
            parts = (
                f"{scan['partitions_read']}/{scan['partitions_total']} partitions, "
                if scan.get("partitions_total")
                else ""
            )
            where = (
                f" where {' and '.join(scan['partition_filter'])}"
                if scan.get("partition_filter")
                else ""
            )
            out.append(
                f"scan {scan['table']} ({scan['format']}): {parts}{scan['files']} files, "
                f"{scan['bytes']:,} bytes{where}"
            )
        cutoff = (
            "no cutoff"
            if self.bytes_scanned_cutoff is None
            else f"cutoff {self.bytes_scanned_cutoff:,} bytes"
            + ("" if self.within_cutoff else f" -- would fail: {CUTOFF_MESSAGE}")
        )
        out.append(
            f"bytes scanned: {self.bytes_scanned:,} (upper bound: whole files)   "
            f"price: ${self.cost_usd:.6f} at ${PRICE_PER_TB_USD:g}/TB   {cutoff}"
        )
        if self.translated_sql:
            out.append(f"duckdb sql: {self.translated_sql}")
        return out
