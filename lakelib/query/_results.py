"""The result location: ``query-results/<workgroup>/<query_id>.csv`` plus its metadata JSON.

Like Athena, every query gets an id and a record. The record
(``<query_id>.metadata.json``) is written ``RUNNING`` when the query starts and rewritten
``SUCCEEDED``, ``FAILED`` or ``CANCELLED`` when it ends, with the SQL, timings, bytes
scanned and price. The CSV is written (atomically) only after the query succeeded, before
the final record: a failed, cut-off or cancelled query never leaves a CSV behind. The local
engine streams it batch by batch into a temp file (:class:`CsvResultFile`) moved into place at
the end, so a result of any size costs one batch of memory; only results up to
``[query] max_result_rows`` (lake.toml) are also kept in memory for ``.table`` / ``.df``.

CSV is Athena's: a header, every value double-quoted, NULL as an empty unquoted field;
arrays as ``[1, 2]``, maps and rows as ``{k=v, ...}`` (Trino's text form); decimals with their
scale; doubles as Trino's client prints them (Java's ``Double.toString``: ``3.0``, ``1.0E7``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lakelib import _stamps as stamps
from lakelib.config import Settings, Zone
from lakelib.errors import LakeError, NotFoundError, QueryError, StorageError
from lakelib.storage import Store

if TYPE_CHECKING:
    import pandas as pd

PRICE_PER_TB_USD = 5.0
_TB = 10**12
_MB = 10**6
MINIMUM_BILLED_BYTES = 10 * _MB

STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
CUTOFF_MESSAGE = "Query cancelled! : Bytes scanned limit was exceeded"

# Rows a result may have and still be held in memory (``.table`` / ``.df``); larger results
# live only in their CSV. A million rows of a dozen columns is a few hundred MB in pandas.
DEFAULT_MAX_RESULT_ROWS = 1_000_000


def max_result_rows(settings: Settings) -> int:
    """``[query] max_result_rows`` from lake.toml (default :data:`DEFAULT_MAX_RESULT_ROWS`;
    its type and sign are checked when lake.toml loads)."""
    return settings.config.query.max_result_rows or DEFAULT_MAX_RESULT_ROWS


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
    """Now, to the millisecond (query records order queries submitted in the same second)."""
    return stamps.utc_now("milliseconds")


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
        self.store = store or settings.store(Zone.QUERY_RESULTS)

    def csv_key(self, workgroup: str, query_id: str) -> str:
        return f"{workgroup}/{query_id}.csv"

    def metadata_key(self, workgroup: str, query_id: str) -> str:
        return f"{workgroup}/{query_id}.metadata.json"

    def _write(self, key: str, data: bytes) -> None:
        # Results and records are derived data: atomic (temp file + rename, readers never
        # see half a file) but not fsynced, which would cost more than the query itself
        # on small results. A power cut can lose the last few; the lake is untouched.
        staged = self.store.stage(key, durable=False)
        try:
            staged.path.write_bytes(data)
        except OSError as exc:
            staged.abort()
            raise StorageError(f"cannot write {staged.path}: {exc.strerror or exc}") from exc
        staged.commit()

    def write_record(self, record: QueryRecord) -> None:
        self._write(self.metadata_key(record.workgroup, record.query_id), record.to_json().encode())

    def write_csv(self, workgroup: str, query_id: str, table: pa.Table) -> str:
        key = self.csv_key(workgroup, query_id)
        self._write(key, render_csv(table, quote_all=True))
        return self.store.url(key)

    def open_csv(self, workgroup: str, query_id: str) -> CsvResultFile:
        """A result CSV to write batch by batch; nothing is visible until it is committed."""
        return CsvResultFile(self.store, self.csv_key(workgroup, query_id))

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


class CsvResultFile:
    """A result CSV written batch by batch (Athena's quoting), atomically put in place.

    Locally the batches go to a temp file beside the final name, renamed by :meth:`commit`;
    for another store they are spooled to a local temp file and written with one PUT.
    """

    def __init__(self, store: Store, key: str) -> None:
        self.store = store
        self.key = key
        self.rows = 0
        self._writer: pacsv.CSVWriter | None = None
        # Locally a temp file beside the final name; for S3 a local temp file, one PUT.
        self._staged = store.stage(key, durable=False)
        self._tmp = self._staged.path
        try:
            self._file = self._tmp.open("wb")
        except OSError as exc:
            self._staged.abort()
            raise StorageError(f"cannot write {self._tmp}: {exc.strerror or exc}") from exc

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append rows (the header comes with the first batch)."""
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if table.num_columns == 0:
            return
        text = textual(table)
        try:
            if self._writer is None:
                options = pacsv.WriteOptions(include_header=True, quoting_style="all_valid")
                self._writer = pacsv.CSVWriter(self._file, text.schema, write_options=options)
            self._writer.write_table(text)
        except OSError as exc:
            raise StorageError(f"cannot write {self._tmp}: {exc.strerror or exc}") from exc
        self.rows += table.num_rows

    def commit(self, schema: pa.Schema) -> str:
        """Finish the file (a header alone for an empty result) and put it in place."""
        try:
            if self._writer is None and len(schema):
                self.write(schema.empty_table())
            if self._writer is not None:
                self._writer.close()
            self._file.close()
            self._staged.commit()
        except OSError as exc:
            self.abort()
            raise StorageError(f"cannot write {self._tmp}: {exc.strerror or exc}") from exc
        except BaseException:
            self.abort()
            raise
        return self.store.url(self.key)

    def abort(self) -> None:
        """Drop what was written; the final name is never touched."""
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink(missing_ok=True)


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
    if isinstance(value, float):
        return java_double_text(value)
    return str(value)


def java_double_text(value: float, shortest: str | None = None) -> str:
    """A double as Trino's client prints it: Java's ``Double.toString``.

    Plain with at least one fraction digit from 10^-3 up to 10^7 (``100.0``, ``0.001``),
    otherwise ``d.dddE<n>`` (``1.0E7``, ``1.2345678912345679E8``, ``1.0E-4``); the digits are
    the shortest that read back as the same double (Python's ``repr`` digits, which Java's
    algorithm since JDK 19 agrees with); ``NaN``, ``Infinity``, ``-Infinity``. ``shortest``
    is the shortest text of a REAL, whose digits are a float's (``Float.toString``).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    found = shortest or repr(value)
    if shortest is None and len(Decimal(found).normalize().as_tuple().digits) == 1:
        # Java picks, when one digit would do, the two-digit decimal closest to the value
        # (Double.MIN_VALUE is 4.9E-324, not 5.0E-324).
        two = format(value, ".1e")
        found = two if float(two) == value else found
    sign, digits, exponent = Decimal(found).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    # The power of ten of the first digit (value = 0.d1d2... x 10^(point)).
    point = len(digits) + int(exponent)
    minus = "-" if sign else ""
    if value == 0:
        return f"{minus}0.0"
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{text}"
        whole, fraction = text[:point].ljust(point, "0"), text[point:]
        return f"{minus}{whole}.{fraction or '0'}"
    return f"{minus}{text[0]}.{text[1:] or '0'}E{point - 1}"


def textual(table: pa.Table) -> pa.Table:
    """Nested and timestamp columns turned into Trino's text (binary ones refused); others kept."""
    columns: list[pa.ChunkedArray] = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            # How Athena writes varbinary into its CSV is not checked: refused, never b'..'.
            raise QueryError(
                f"a varbinary result column ({table.column_names[len(columns)]}) is not "
                "supported by the local engine; convert it with to_hex(...) or to_base64(...)"
            )
        if pa.types.is_interval(kind) or pa.types.is_duration(kind) or pa.types.is_time(kind):
            # Trino prints intervals as "1 02:00:00.000" / "1-2" and times with their literal's
            # precision; the local engine does not render either: refused, never Arrow's text.
            what = "a time" if pa.types.is_time(kind) else "an interval"
            raise QueryError(
                f"{what} result column ({table.column_names[len(columns)]}) is not supported by "
                "the local engine; format it (e.g. to_milliseconds, date_format) or cast it"
            )
        if pa.types.is_nested(kind):
            if _second_timestamps(kind):
                # trino_text prints nested timestamps to the millisecond; a timestamp(0) in an
                # array or map prints without fraction in Trino: refused, never ".000".
                raise QueryError(
                    f"a timestamp(0) inside an array, map or row "
                    f"({table.column_names[len(columns)]}) is not supported by the local "
                    "engine; cast the elements to timestamp(3) or format them"
                )
            values = [None if v is None else trino_text(v) for v in column.to_pylist()]
            column = pa.chunked_array([pa.array(values, pa.string())])
        elif pa.types.is_timestamp(kind):
            column = _timestamp_text(column)
        elif pa.types.is_decimal(kind):
            column = pc.cast(column, pa.string())
        elif pa.types.is_floating(kind):
            column = _double_text(column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


_UTC_NAMES = {"UTC", "Etc/UTC", "+00:00", "Z"}


def _second_timestamps(kind: pa.DataType) -> bool:
    """Whether a nested type holds a second-precision (Trino timestamp(0)) timestamp."""
    if pa.types.is_timestamp(kind):
        return bool(kind.unit == "s")
    if pa.types.is_map(kind):
        return _second_timestamps(kind.key_type) or _second_timestamps(kind.item_type)
    if pa.types.is_struct(kind):
        return any(_second_timestamps(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _second_timestamps(kind.value_type)
    return False


def _timestamp_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as :func:`trino_text` writes them (``2026-01-02 03:04:05.678``, `` UTC``
    for a zoned one), computed by Arrow: a per-value Python loop costs seconds per million."""
    kind = column.type
    low, high = pc.min_max(column).values()
    years_ok = low.as_py() is None or (
        pc.year(low).as_py() >= 1000 and pc.year(high).as_py() <= 9999
    )
    if (kind.tz is not None and kind.tz not in _UTC_NAMES) or not years_ok:
        # Other zones and four-digit-year edge cases keep Python's exact text.
        values = [None if v is None else trino_text(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())])
    # A UTC instant is its naive value; Arrow's zone-aware kernels are ~10x slower.
    naive = column.cast(pa.timestamp(kind.unit)) if kind.tz is not None else column
    if kind.unit == "s" and kind.tz is None:
        # timestamp(0) (a TIMESTAMP '... 03:04:05' literal): Trino prints no fraction digits.
        return pc.cast(naive, pa.string())
    # isoformat(timespec="milliseconds") drops the digits past the millisecond: floor. A
    # millisecond timestamp cast to text reads "2026-01-02 03:04:05.678" (strftime: 20x slower).
    millis = pc.cast(pc.floor_temporal(naive, unit="millisecond"), pa.timestamp("ms"), safe=False)
    text = pc.cast(millis, pa.string())
    if kind.tz is not None:
        text = pc.binary_join_element_wise(text, pa.scalar(" UTC"), "")
    return text


def _double_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Doubles (and reals) as :func:`java_double_text` writes them, by Arrow where it can.

    Arrow's text of a double in [10^-3, 10^7) has the same shortest digits, written plainly
    (``100``, ``0.25``): only a missing ``.0`` differs. Values outside that range (and reals,
    whose shortest digits are a float's) take the per-value path.
    """
    if pa.types.is_float64(column.type):
        magnitude = pc.abs(column)
        plain = pc.or_(
            pc.equal(magnitude, 0.0),
            pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7)),
        )
        if pc.all(pc.or_kleene(plain, pc.is_null(column))).as_py() is not False:
            text = pc.cast(column, pa.string())
            needs_point = pc.invert(pc.match_substring(text, "."))
            return pc.if_else(needs_point, pc.binary_join_element_wise(text, ".0", ""), text)
        values = [None if v is None else java_double_text(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())])
    import numpy as np

    values = [
        None if v is None else java_double_text(v, str(np.float32(v))) for v in column.to_pylist()
    ]
    return pa.chunked_array([pa.array(values, pa.string())])


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


def plain_csv_from_result(path: str | Path, sink: Any) -> None:
    """Copy a result CSV (Athena's quoting) to ``sink`` as plain CSV, row by row.

    What ``lake query --format csv`` prints for a result too large to hold: the same text
    (NULL and the empty string both empty, as :func:`render_csv` writes them), never the
    whole file in memory.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerows(csv.reader(handle))


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_json(table: pa.Table) -> str:
    """A JSON array of row objects (dates ISO, decimals as strings)."""
    rows = table.to_pylist()
    return json.dumps(rows, default=_json_default, ensure_ascii=False)


class QueryResult:
    """A finished query: its rows and its record.

    ``table`` is a :class:`pyarrow.Table`; :meth:`to_pandas` (or :attr:`df`) gives a DataFrame.
    A result with more rows than ``[query] max_result_rows`` is not held in memory: it is
    complete in its CSV (:attr:`output_location`), and ``table`` / ``df`` raise
    :class:`~lakelib.errors.QueryError` saying so.
    """

    def __init__(
        self,
        table: pa.Table | None,
        record: QueryRecord,
        *,
        max_rows: int | None = None,
        preview: pa.Table | None = None,
    ) -> None:
        self._table = table
        self.record = record
        self.max_rows = max_rows
        self._preview = preview

    def __repr__(self) -> str:
        return (
            f"QueryResult(query_id={self.query_id!r}, rows={len(self)}, held={self.held}, "
            f"output_location={self.output_location!r})"
        )

    @property
    def held(self) -> bool:
        """Whether the rows are in memory (False past the row cap: read the CSV instead)."""
        return self._table is not None

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            raise QueryError(
                f"the result has {self.record.rows:,} rows, more than the {self.max_rows:,} "
                "held in memory ([query] max_result_rows in lake.toml); the full result is "
                f"in {self.output_location} -- read it from there, add a LIMIT or aggregate, "
                "or raise the cap"
            )
        return self._table

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

    def to_pandas(self) -> pd.DataFrame:
        return cast("pd.DataFrame", self.table.to_pandas())

    @property
    def df(self) -> pd.DataFrame:
        return self.to_pandas()

    def head(self, n: int) -> pa.Table:
        """The first ``n`` rows (at most the preview's rows when the result is not held)."""
        source = self._table if self._table is not None else self._preview
        if source is None:
            return self.table.slice(0, n)  # raises the row-cap error
        return source.slice(0, n)

    def __len__(self) -> int:
        return self._table.num_rows if self._table is not None else self.record.rows


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
