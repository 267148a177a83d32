"""The run record every ETL job writes: what one run did, and how it ended.

Both jobs (``sales_clean`` and ``curate``) open their work with :func:`recorded`: it makes the
record, times the run, and writes ``runs/etl/<job>/<run_id>.json`` once the run ends, with
``status`` ``succeeded`` or ``failed`` (and the error). A failure leaves as one
:class:`~lakelib.errors.EtlError` whose message is a single line, without the JVM's stack
frames.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from lakelib import _stamps as stamps
from lakelib.config import Settings
from lakelib.errors import EtlError
from lakelib.etl._state import write_run_record


@dataclass
class EtlRun:
    """What one ETL run did; written to ``runs/etl/<job>/<run_id>.json``.

    For ``sales_clean``, ``rows_in = rows_out + rows_quarantined + duplicates_removed``
    always holds (the run fails otherwise): ``rows_out`` counts rows the table gained,
    ``duplicates_removed`` rows that lost to a newer version of their ``id`` (in this run's
    input or already in the table).
    """

    job: str
    run_id: str
    started: str
    engine: str = "local"
    mode: str = "incremental"
    status: str = "running"
    finished: str | None = None
    duration_s: float = 0.0
    raw_files: int = 0
    raw_bytes: int = 0
    batches: int = 0
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    duplicates_removed: int = 0
    rows_written: int = 0
    unknown_customers: int = 0
    unknown_products: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    partitions_written: list[str] = field(default_factory=list)
    partitions_removed: list[str] = field(default_factory=list)
    quarantine_partitions: list[str] = field(default_factory=list)
    files_written: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    references: dict[str, str | None] = field(default_factory=dict)
    shuffle_partitions: int = 0
    since: str | None = None
    error: str | None = None

    @property
    def reconciles(self) -> bool:
        """Whether every row in is accounted for: out, quarantined or a replaced version."""
        return self.rows_in == self.rows_out + self.rows_quarantined + self.duplicates_removed

    def as_dict(self) -> dict[str, Any]:
        """The record as written to ``runs/``."""
        return asdict(self)


def new_run(job: str, mode: str) -> EtlRun:
    """A fresh record for a run of ``job`` starting now."""
    now = datetime.now(UTC)
    run_id = stamps.run_id(now)
    return EtlRun(job, run_id, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), mode=mode)


def finish(run: EtlRun, started: float, settings: Settings, status: str) -> EtlRun:
    """Close ``run`` with ``status`` (timed from ``started``, a ``perf_counter``) and write it."""
    run.status = status
    run.finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run.duration_s = round(time.perf_counter() - started, 3)
    write_run_record(run.job, run.run_id, run.as_dict(), settings)
    return run


@contextmanager
def recorded(
    job: str,
    mode: str,
    settings: Settings,
    *,
    describe: Callable[[BaseException], str] | None = None,
) -> Iterator[EtlRun]:
    """Run the body as one recorded run of ``job``; the record is written however it ends.

    The body fills the yielded :class:`EtlRun`. On leaving normally the record is written
    ``succeeded``; on an exception it is written ``failed`` with the error, and anything but
    an :class:`EtlError` (or a ``BaseException`` such as ``KeyboardInterrupt``) is raised
    again as an ``EtlError`` of one line, ``"<job> failed: <describe(exc)>"`` (default:
    :func:`short_error`).

    Examples
    --------
    >>> with recorded("curate", "full", settings) as run:        # doctest: +SKIP
    ...     run.rows_in = 10
    """
    run = new_run(job, mode)
    started = time.perf_counter()
    try:
        yield run
    except BaseException as exc:
        run.error = " ".join(str(exc).split())[:2000]
        finish(run, started, settings, "failed")
        if isinstance(exc, EtlError) or not isinstance(exc, Exception):
            raise
        raise EtlError(f"{job} failed: {(describe or short_error)(exc)}") from exc
    finish(run, started, settings, "succeeded")


def path_key(path: str) -> str:
    """A file URL as the store names it: no ``file:`` scheme, ``s3a://`` as ``s3://``."""
    for prefix in ("file://", "file:"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path.replace("s3a://", "s3://").replace("s3n://", "s3://")


def short_error(exc: BaseException) -> str:
    """One line for a failed run: the innermost message, without the JVM's stack frames,
    naming the raw file Spark could not read when that was the cause.

    Spark hands an error raised inside a ``foreachBatch`` function back through py4j as
    the text of a JVM exception wrapping the Python traceback; only that text is left.
    """
    text = str(exc)
    if "EtlError: " in text:  # our own error, raised inside the batch function
        return _first_line(text.rsplit("EtlError: ", 1)[-1])
    message = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("at ") or ("Exception: " not in line and "Error: " not in line):
            continue
        message = re.split(r"(?:Exception|Error): ", line)[-1]
    message = message or _first_line(text)
    reading = re.search(r"reading file (\S+?)\.?(?:\s|$)", text)
    if reading and reading[1] not in message:
        message = f"cannot read {path_key(reading[1])}: {message}"
    return message[:400]


def _first_line(text: str) -> str:
    return " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
