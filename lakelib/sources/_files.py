"""Files: JSON lines, JSON arrays, CSV and Parquet, optionally gzip-compressed.

A location is a file, a folder (every visible file under it, sorted) or a glob pattern.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import io
import logging
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from lakelib.errors import IngestError
from lakelib.sources._base import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_RECORD_BYTES,
    RECORD_KEYS,
    Item,
    Record,
    failed,
)

log = logging.getLogger(__name__)

FORMATS = ("auto", "jsonl", "json", "csv", "parquet")
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

_PARQUET_MAGIC = b"PAR1"
_HEADER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]*")
_SNIFF_BYTES = 64 * 1024


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte order mark.

    Spreadsheets ("CSV UTF-8"), Windows editors and some APIs start UTF-8 text with
    ``EF BB BF``; JSON parsers reject it and a CSV reader would glue it to the first
    column's name.
    """
    return data[len(BOM) :] if data.startswith(BOM) else data


def _skip_bom(handle: IO[bytes]) -> None:
    if handle.read(len(BOM)) != BOM:
        handle.seek(0)


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    """The file's decompressed bytes (gzip is detected by magic, not by name), past any BOM."""
    if _is_gzip(path):
        with gzip.open(path, "rb") as handle:
            _skip_bom(handle)  # type: ignore[arg-type]
            yield handle  # type: ignore[misc]
    else:
        with path.open("rb") as handle:
            _skip_bom(handle)
            yield handle


def _head(path: Path) -> bytes:
    try:
        with _open_binary(path) as handle:
            return handle.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{path}: not a readable gzip file ({exc})") from exc


def detect_format(path: Path, head: bytes | None = None) -> str:
    """Format from the name (``.jsonl``, ``.csv.gz``, ...), else from the first bytes."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    by_name = _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None
    head = _head(path) if head is None else strip_bom(head)
    if by_name == "parquet" or head.startswith(_PARQUET_MAGIC):
        return "parquet"
    first = head.lstrip()[:1]
    if by_name == "json" or (by_name is None and first in (b"[", b"{")):
        # ``.json`` holds one document (an array, or an object spread over lines: an API
        # export) or JSON lines; the first lines decide.
        return "json" if first == b"[" or (first == b"{" and _one_document(head)) else "jsonl"
    if by_name:
        return by_name
    raise IngestError(f"cannot tell the format of {path}: name it .jsonl/.json/.csv/.parquet")


def _one_document(head: bytes, lines: int = 5) -> bool:
    """Whether text starting with ``{`` is one JSON document rather than JSON lines.

    JSON lines have a whole object on a line; a pretty-printed document has none among its
    first lines (``"id": 1,`` is no object). A bad first line alone does not decide: dirty
    JSON lines stay JSON lines, so their good records land.
    """
    complete = head.split(b"\n")[:-1][:lines]  # the last piece may be cut by the sniff
    if not complete:
        return False  # one line, possibly longer than the sniff: a JSON line
    for line in complete:
        try:
            if isinstance(orjson.loads(line), dict):
                return False
        except orjson.JSONDecodeError:
            continue
    return True


def expand_location(location: str | Path) -> list[Path]:
    """The files a location names; a clear error when there are none."""
    text = str(location)
    path = Path(text).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not files:
            raise IngestError(f"no files in folder {path}")
        return files
    if glob.has_magic(text):
        matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matches:
            raise IngestError(f"no files match {text}")
        return matches
    raise IngestError(f"no such file or folder: {text}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_json_line(line: bytes, position: int, limit: int) -> Item:
    # A BOM mid-stream: files concatenated with ``cat``, each saved with its own BOM.
    line = strip_bom(line)
    if len(line) > limit:
        return failed(
            f"too_large: record of {len(line):,} bytes exceeds the limit of {limit:,} bytes",
            line,
            position,
        )
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return failed(
                f"bad_encoding: not valid UTF-8 ({uexc.reason} at byte {uexc.start})",
                line,
                position,
            )
        return failed(f"malformed_json: {exc}", line, position)
    if not isinstance(value, dict):
        return failed(
            f"not_an_object: a JSON {type(value).__name__}, not an object", line, position
        )
    return Item(value, line, None, position)


@dataclass
class FileUnit:
    """One file of a :class:`FileSource`."""

    path: Path
    origin: str
    fmt: str
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    csv_fields: Sequence[str] | None = None
    _digest: str | None = None

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = _sha256(self.path)
        return self._digest

    def batches(self, size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[Item]]:
        reader = {
            "jsonl": self._jsonl,
            "json": self._json_document,
            "csv": self._csv,
            "parquet": self._parquet,
        }[self.fmt]
        batch: list[Item] = []
        try:
            for item in reader():
                batch.append(item)
                if len(batch) >= size:
                    yield batch
                    batch = []
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise IngestError(f"{self.path}: truncated or corrupt gzip data ({exc})") from exc
        if batch:
            yield batch

    def _check_text(self, head: bytes) -> None:
        if head.startswith(_UTF16_BOMS):
            # A spreadsheet's "Unicode text" export: say how to fix it, not just "binary".
            raise IngestError(
                f'{self.path}: UTF-16 text; save it as UTF-8 (a spreadsheet\'s "CSV UTF-8")'
            )
        if b"\x00" in head:
            raise IngestError(f"{self.path}: looks binary, not {self.fmt} text")

    def _jsonl(self) -> Iterator[Item]:
        limit = self.max_record_bytes
        with _open_binary(self.path) as handle:
            self._check_text(
                handle.peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if hasattr(handle, "peek") else b""
            )
            loads = orjson.loads
            for position, line in enumerate(handle, 1):
                line = line.rstrip(b"\r\n")
                # Fast path: a well-formed object of reasonable size; anything else is
                # classified (and kept for the quarantine) by _parse_json_line.
                if len(line) <= limit:
                    try:
                        value = loads(line)
                    except orjson.JSONDecodeError:
                        value = None
                    if type(value) is dict:
                        yield Item(value, line, None, position)
                        continue
                if not line.strip():
                    continue
                yield _parse_json_line(line, position, limit)

    def _records_prefix(self) -> str:
        """Where a JSON document keeps its records, as an ijson prefix.

        ``item`` for a top-level array; ``<key>.item`` for an object with its records in a
        list under ``records``, ``data``, ``items`` or ``results``; ``""`` for any other
        object, which is then one record. Found by streaming parse events, not by loading.
        """
        import ijson

        with _open_binary(self.path) as handle:
            try:
                for prefix, event, _ in ijson.parse(handle):
                    if event == "start_array" and (prefix == "" or prefix in RECORD_KEYS):
                        return f"{prefix}.item" if prefix else "item"
                    if prefix == "" and event == "end_map":
                        return ""
            except ijson.JSONError:
                pass  # reading the records hits it again and keeps what came before it
        return "item"

    def _json_document(self) -> Iterator[Item]:
        import ijson

        prefix = self._records_prefix()
        what = "object" if prefix == "" else "array"
        with _open_binary(self.path) as handle:
            position = 0
            try:
                for value in ijson.items(handle, prefix, use_float=True):
                    position += 1
                    if isinstance(value, dict):
                        yield Item(value, None, None, position)
                    else:
                        raw = orjson.dumps(value)
                        yield failed(
                            f"not_an_object: {what} element is not an object", raw, position
                        )
            except ijson.JSONError as exc:
                # Keep what could not be parsed: the document from the start, capped.
                with _open_binary(self.path) as again:
                    raw = again.read(DEFAULT_MAX_RECORD_BYTES)
                yield failed(
                    f"malformed_json: JSON {what} broken after element {position}: {exc}",
                    raw,
                    position + 1,
                )

    def _csv(self) -> Iterator[Item]:
        with _open_binary(self.path) as handle:
            self._check_text(
                handle.peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if hasattr(handle, "peek") else b""
            )
            text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
            rows = csv.reader(text)
            sample: list[list[str]] = []
            for row in rows:
                sample.append(row)
                if len(sample) >= 20:
                    break
            if not sample:
                return
            header, has_header = csv_header(sample, self.csv_fields)
            log.debug("%s: %s", self.path, "header row found" if has_header else "no header row")
            start = 1 if has_header else 0
            position = 0

            def rows_after_sample() -> Iterator[list[str]]:
                yield from sample[start:]
                yield from rows

            for position, row in enumerate(rows_after_sample(), start + 1):
                if not row:
                    continue
                yield self._csv_item(header, row, position)

    @staticmethod
    def _csv_item(header: Sequence[str], row: list[str], position: int) -> Item:
        line = io.StringIO()
        csv.writer(line).writerow(row)
        raw = line.getvalue().rstrip("\r\n")
        if any(_has_surrogates(field) for field in row):
            raw_bytes = raw.encode("utf-8", "surrogateescape")
            return failed("bad_encoding: not valid UTF-8", raw_bytes, position)
        if len(row) != len(header):
            return failed(
                f"ragged_row: expected {len(header)} fields, got {len(row)}", raw, position
            )
        record: Record = {
            name: (value if value != "" else None) for name, value in zip(header, row, strict=True)
        }
        return Item(record, raw, None, position)

    def _parquet(self) -> Iterator[Item]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise IngestError(f"{self.path}: not a readable Parquet file ({exc})") from exc
        position = 0
        for batch in parquet.iter_batches(batch_size=DEFAULT_BATCH_SIZE):
            for record in batch.to_pylist():
                position += 1
                yield Item(record, None, None, position)


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def csv_header(
    sample: list[list[str]], known_fields: Sequence[str] | None = None
) -> tuple[list[str], bool]:
    """Decide whether the first row is a header, without relying on typed columns.

    The first row is a header when (a) it names at least half of the contract's fields, or
    (b) with no contract, its cells are distinct, name-like (``[A-Za-z_][A-Za-z0-9_ .-]*``) and
    none of them shows up again in its own column further down — data values repeat or vary
    per row, column names do not. This works for all-string tables where ``csv.Sniffer``
    (which looks for a column whose type differs from the first row) gives up.
    Without a header, columns are named after the contract's fields, else ``col_1...``.
    """
    first = [cell.strip() for cell in sample[0]]
    known = list(known_fields or [])
    lowered = {name.lower() for name in known}
    if known and sum(cell.lower() in lowered for cell in first) * 2 >= len(known):
        return first, True
    name_like = all(_HEADER_NAME.fullmatch(cell) for cell in first) and len(set(first)) == len(
        first
    )
    if not known and name_like:
        repeated = any(
            len(row) > col and row[col].strip() == name
            for row in sample[1:]
            for col, name in enumerate(first)
        )
        if not repeated:
            return first, True
    width = len(sample[0])
    if known and len(known) >= width:
        return known[:width], False
    return [f"col_{i}" for i in range(1, width + 1)], False


class FileSource:
    """Records from files.

    Parameters
    ----------
    location:
        a file, a folder or a glob (``data/*.csv.gz``).
    fmt:
        ``auto`` (from the name, then the first bytes), ``jsonl``, ``json``, ``csv`` or ``parquet``.
    csv_fields:
        field names of the source's contract, used to recognise a CSV header row and to name
        the columns of a headerless file.
    """

    kind = "files"

    def __init__(
        self,
        location: str | Path,
        fmt: str = "auto",
        *,
        csv_fields: Sequence[str] | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        if fmt not in FORMATS:
            raise IngestError(f"unknown format {fmt!r} (use one of: {', '.join(FORMATS)})")
        self.location = location
        self.fmt = fmt
        self.csv_fields = csv_fields
        self.max_record_bytes = max_record_bytes

    def describe(self) -> str:
        return str(self.location)

    def units(self) -> Iterator[FileUnit]:
        paths = expand_location(self.location)
        base = Path(str(self.location)).expanduser()
        for path in paths:
            origin = path.relative_to(base).as_posix() if base.is_dir() else path.name
            fmt = self.fmt if self.fmt != "auto" else detect_format(path)
            yield FileUnit(path, origin, fmt, self.max_record_bytes, self.csv_fields)


def _default(value: Any) -> Any:
    """JSON for values Parquet and databases produce that JSON has no type for."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(record: Record) -> bytes:
    """Encode one record as a JSON line (UTC datetimes with ``Z``; decimals as numbers)."""
    return orjson.dumps(record, default=_default, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
