"""One ingestion run: fetch -> validate -> add metadata -> gzip -> land in the raw zone.

A run either lands all it read and records each input as landed, or takes back every file it
wrote and raises (see :mod:`lakelib.ingest._state` for why the landed marker comes last).
Every record carries an envelope: ``_ingested_at`` (the run's landing time, ISO-8601 UTC with
microseconds, strictly increasing within a process), ``_position`` (0-based ordinal of the
record in the run, in read order across its inputs), ``_source``, ``_run_id``, ``_origin``.
The newest version of a record is the one with the greatest (``_ingested_at``,
``_position``): arrival order, never the record's values. (A quarantined record's
``_position`` is its place in its own input, so the line can be found there.)
"""

from __future__ import annotations

import errno
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from lakelib import _stamps as stamps
from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import IngestError, LakeError, StorageError
from lakelib.ingest._contract import Contract, load_contract, reason_code, source_headers
from lakelib.ingest._landing import (
    DEFAULT_MAX_BYTES_PER_FILE,
    DEFAULT_MAX_RECORDS_PER_FILE,
    GzipLinesWriter,
)
from lakelib.ingest._state import IngestState
from lakelib.sources import DEFAULT_BATCH_SIZE, FileSource, Source, SqlSource, dumps, open_source
from lakelib.storage import Store, validate_name

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
_ENVELOPE_KEYS = frozenset({"_ingested_at", "_position", "_source", "_run_id", "_origin"})


@dataclass
class IngestSummary:
    """What one run did; ``read == landed + quarantined`` always holds."""

    source: str
    run_id: str
    landed_at: str
    origin: str
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    files: list[str] = field(default_factory=list)
    quarantine_files: list[str] = field(default_factory=list)
    bytes_written: int = 0
    inputs: int = 0
    skipped_inputs: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    validated: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def quarantine_table(source: str) -> str:
    """Folder in the quarantine zone for records a source's ingestion rejected."""
    return f"raw_{source}"


_clock = threading.Lock()
_last_now = datetime.min.replace(tzinfo=UTC)


def _now() -> datetime:
    """The current UTC time, strictly later than any earlier answer in this process.

    Two runs of one webhook process in the same microsecond would otherwise share an
    ``_ingested_at``, and the version order between them would be a tie.
    """
    global _last_now
    with _clock:
        now = max(datetime.now(UTC), _last_now + timedelta(microseconds=1))
        _last_now = now
        return now


def _landing_time(run_date: date | datetime | None) -> datetime:
    if isinstance(run_date, datetime):
        return run_date if run_date.tzinfo else run_date.replace(tzinfo=UTC)
    now = _now()
    if run_date is None:
        return now
    # A backfill for a given day lands under that day, at the current time of day.
    return datetime.combine(run_date, now.timetz())


def _failure_reason(exc: BaseException) -> str:
    """Why a write failed, in words that name no server path, bucket or key."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return seen.strerror or errno.errorcode.get(seen.errno, "I/O error")
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code"):
            return f"storage answered {response['Error']['Code']}"
        seen = seen.__cause__ or seen.__context__
    return "storage error"


def _as_text(raw: bytes | str | None, record: Mapping[str, Any] | None) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "backslashreplace")
    if isinstance(raw, str):
        return raw
    return dumps(dict(record or {})).decode("utf-8") if record is not None else ""


@dataclass(frozen=True)
class SourceSpec:
    """Where a run reads and how: a location and the options of its kind of source.

    ``location`` is a file, folder or glob, an ``http(s)://`` API or a SQLAlchemy URL; the
    other fields apply to the kind it names (see :func:`lakelib.sources.open_source`):
    ``fmt`` for files, ``table`` / ``query`` / ``watermark`` for SQL, ``retries`` /
    ``timeout`` / ``headers`` for HTTP. A header value ``env:NAME`` or
    ``secretsmanager:<secret-id>`` is a reference, resolved at the first request and never
    recorded; these headers go over those of ``[sources.<source>] headers``.
    """

    location: str
    fmt: str = "auto"
    table: str | None = None
    query: str | None = None
    watermark: str | None = None
    retries: int | None = None
    timeout: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def open(self, source: str, contract: Contract, declared: Mapping[str, Any]) -> Source:
        """The :class:`~lakelib.sources.Source` to read (CSV columns named by the contract)."""
        return open_source(
            self.location,
            fmt=self.fmt,
            csv_fields=contract.field_names or None,
            table=self.table,
            query=self.query,
            watermark=self.watermark,
            retries=self.retries,
            timeout=self.timeout,
            headers={**source_headers(source, declared), **self.headers},
        )


@dataclass(frozen=True)
class LandingOptions:
    """How a run lands what it reads, whatever the source.

    ``run_date`` is the arrival date files are partitioned by (default now, UTC); ``force``
    lands inputs again that were landed before; ``validate=False`` applies only structural
    checks (valid JSON objects), not the contract; the rest size batches and files.
    """

    run_date: date | datetime | None = None
    force: bool = False
    validate: bool = True
    progress: Progress | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_records_per_file: int = DEFAULT_MAX_RECORDS_PER_FILE
    max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE


def ingest(
    source: str,
    location: str | Source,
    *,
    run_date: date | datetime | None = None,
    force: bool = False,
    validate: bool = True,
    settings: Settings | None = None,
    fmt: str = "auto",
    table: str | None = None,
    query: str | None = None,
    watermark: str | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_records_per_file: int = DEFAULT_MAX_RECORDS_PER_FILE,
    max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
) -> IngestSummary:
    """Land the records of ``location`` for ``source`` in the raw zone.

    The keyword form of :func:`land`: ``fmt``, ``table``, ``query``, ``watermark``,
    ``retries``, ``timeout`` and ``headers`` make its :class:`SourceSpec` (options of the
    kind of source ``location`` names); ``run_date``, ``force``, ``validate``, ``progress``
    and the sizes its :class:`LandingOptions`.

    Parameters
    ----------
    source:
        source name (``[a-z0-9_]+``); its contract is ``[sources.<source>]`` in ``lake.toml``.
    location:
        a file/folder/glob, an ``http(s)://`` API or a SQLAlchemy URL (or a ready ``Source``).

    Returns
    -------
    IngestSummary
        counts, keys written and quarantine reasons. Records that fail go to
        ``quarantine/raw_<source>/`` with the reason and the original text; none are dropped.

    Examples
    --------
    >>> summary = ingest("sales", "samples/sales/")         # doctest: +SKIP
    >>> summary.read == summary.landed + summary.quarantined  # doctest: +SKIP
    True
    """
    what = (
        SourceSpec(location, fmt, table, query, watermark, retries, timeout, dict(headers or {}))
        if isinstance(location, str)
        else location
    )
    landing = LandingOptions(
        run_date, force, validate, progress, batch_size, max_records_per_file, max_bytes_per_file
    )
    return land(source, what, landing, settings=settings)


def land(
    source: str,
    what: SourceSpec | Source,
    options: LandingOptions | None = None,
    *,
    settings: Settings | None = None,
) -> IngestSummary:
    """Land what ``what`` reads for ``source`` in the raw zone (see :func:`ingest`).

    A run lands all it read and records each input as landed, or takes back every file it
    wrote and raises.

    >>> land("sales", SourceSpec("https://api.example.com/sales", retries=5),
    ...      LandingOptions(force=True))                    # doctest: +SKIP
    """
    validate_name(source, "source")
    settings = settings or get_settings()
    options = options or LandingOptions()
    declared = settings.section("sources")
    contract = load_contract(source, declared) if options.validate else Contract(source)
    src = what.open(source, contract, declared) if isinstance(what, SourceSpec) else what
    runs = settings.store(Zone.RUNS)
    state = IngestState.load(runs, source)
    watermark_key = _resume_from_watermark(src, state, options.force)
    landed_at = _landing_time(options.run_date)
    tag = stamps.short_tag()
    summary = IngestSummary(
        source,
        stamps.run_id(landed_at, tag),
        landed_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        src.describe(),
        validated=options.validate,
    )
    raw_out = GzipLinesWriter(
        settings.store(Zone.RAW),
        source,
        landed_at,
        max_records=options.max_records_per_file,
        max_bytes=options.max_bytes_per_file,
        tag=tag,
    )
    quarantine_out = GzipLinesWriter(
        settings.store(Zone.QUARANTINE), quarantine_table(source), landed_at, tag=tag
    )
    landed_units: list[tuple[str, str, int]] = []
    marked: list[str] = []
    try:
        undigested = _land_units(
            src,
            state,
            summary,
            contract,
            raw_out,
            quarantine_out,
            landed_units,
            force=options.force,
            batch_size=options.batch_size,
            progress=options.progress,
        )
        _close(summary, raw_out, quarantine_out)
        if summary.read == 0 and not summary.skipped_inputs and isinstance(src, FileSource):
            named = what.location if isinstance(what, SourceSpec) else src.describe()
            raise IngestError(f"nothing to ingest: {named} holds no records")
        if watermark_key and isinstance(src, SqlSource) and src.high_watermark is not None:
            state.set_watermark(watermark_key, src.high_watermark)
        lost = _mark_landed(state, summary, landed_units, marked, force=options.force)
    except BaseException as exc:
        _take_back(exc, summary, raw_out, quarantine_out, kept_some=bool(marked))
        raise
    if lost and not marked and not undigested:
        # Every input was landed by a concurrent run first: give this copy back.
        log.info(
            "ingest %s: %d input(s) landed meanwhile by another run", summary.run_id, len(lost)
        )
        raw_out.discard()
        quarantine_out.discard()
        summary.skipped_inputs += lost
        summary.read = summary.landed = summary.quarantined = summary.inputs = 0
        summary.bytes_written = 0
        summary.files, summary.quarantine_files, summary.reasons = [], [], {}
    elif lost:
        # Mixed with new inputs in the same files: kept; the ETL's dedup by id absorbs it.
        log.warning(
            "ingest %s: %d input(s) also landed by a concurrent run", summary.run_id, len(lost)
        )
    _quietly(_record_run, runs, summary)
    log.info(
        "ingest %s: read %d, landed %d, quarantined %d",
        summary.run_id,
        summary.read,
        summary.landed,
        summary.quarantined,
    )
    return summary


def _resume_from_watermark(src: Source, state: IngestState, force: bool) -> str | None:
    """A SQL source with a watermark column reads on from the last run's high mark."""
    if not (isinstance(src, SqlSource) and src.watermark):
        return None
    key = f"{src.describe()}::{src.watermark}"
    if src.since is None and not force:
        src.since = state.watermark(key)
        src.high_watermark = src.since
    return key


def _close(
    summary: IngestSummary, raw_out: GzipLinesWriter, quarantine_out: GzipLinesWriter
) -> None:
    """Finish the files and check the run reconciles: read = landed + quarantined."""
    summary.files = [f"raw/{key}" for key in raw_out.close()]
    summary.quarantine_files = [f"quarantine/{key}" for key in quarantine_out.close()]
    summary.landed = raw_out.records
    summary.quarantined = quarantine_out.records
    summary.bytes_written = raw_out.bytes_written + quarantine_out.bytes_written
    if summary.read != summary.landed + summary.quarantined:
        raise IngestError(
            f"ingest {summary.run_id} does not reconcile: read {summary.read} != landed "
            f"{summary.landed} + quarantined {summary.quarantined}"
        )


def _mark_landed(
    state: IngestState,
    summary: IngestSummary,
    landed_units: list[tuple[str, str, int]],
    marked: list[str],
    *,
    force: bool,
) -> list[str]:
    """The commit point: an input counts as landed once its marker exists.

    Appends to ``marked`` the inputs this run committed; returns the origins a concurrent
    run committed first.
    """
    lost = []
    for digest, origin, count in landed_units:
        info = {
            "origin": origin,
            "run_id": summary.run_id,
            "records": count,
            "files": summary.files,
        }
        if state.mark_landed(digest, info):
            marked.append(digest)
        elif not force:  # forced: landing it again was the point
            lost.append(origin)
    return lost


def _take_back(
    exc: BaseException,
    summary: IngestSummary,
    raw_out: GzipLinesWriter,
    quarantine_out: GzipLinesWriter,
    *,
    kept_some: bool,
) -> None:
    """After a failure: discard this run's files unless some input is already committed.

    A storage failure becomes one :class:`StorageError` naming no path; others propagate.
    """
    if kept_some:
        # Some inputs are committed and a concurrent run may already have given way to
        # them: keep everything; a rerun skips those and re-lands the rest (a repeat the
        # ETL's dedup absorbs), where taking them back could lose them.
        kept = "the inputs recorded as landed were kept"
    else:
        raw_out.discard()
        quarantine_out.discard()
        kept = "nothing from this run was kept"
    if isinstance(exc, StorageError):
        log.info("ingest %s failed (%s): %s", summary.run_id, kept, exc)
        raise StorageError(
            f"could not land {summary.source} records: {_failure_reason(exc)}; {kept}, retry later"
        ) from exc


def _quietly(action: Callable[..., None], *args: Any) -> None:
    """Best-effort bookkeeping after the data's fate is decided: log, never raise."""
    try:
        action(*args)
    except (LakeError, OSError) as exc:
        log.error("ingest bookkeeping failed (%s): %s", getattr(action, "__name__", action), exc)


def _land_units(
    src: Source,
    state: IngestState,
    summary: IngestSummary,
    contract: Contract,
    raw_out: GzipLinesWriter,
    quarantine_out: GzipLinesWriter,
    landed_units: list[tuple[str, str, int]],
    *,
    force: bool,
    batch_size: int,
    progress: Progress | None,
) -> bool:
    """Read every new input into the writers; ``True`` if some input had no digest (SQL)."""
    check = contract.compile()
    reasons: Counter[str] = Counter()
    envelope_base = {"_ingested_at": summary.landed_at, "_source": summary.source}
    envelope_base["_run_id"] = summary.run_id
    undigested = False
    ordinal = 0  # the record's _position: its place in the run, across inputs
    for unit in src.units():
        origin = unit.origin
        digest = unit.digest
        if not force and state.has(digest):
            log.info("%s: already landed (%s), skipped", origin, str(digest)[:12])
            summary.skipped_inputs.append(origin)
            continue
        summary.inputs += 1
        unit_records = 0
        envelope = {**envelope_base, "_origin": origin}
        # The envelope is appended to each encoded record as bytes: encoding it once per
        # unit instead of once per record is a third of ingestion's Python time.
        suffix = b"," + dumps(envelope)[1:]
        for batch in unit.batches(batch_size):
            lines = []
            for record, raw, error, position in batch:
                ordinal += 1
                if error is None and record is not None:
                    error = check(record)
                    if error is None:
                        if record and not _ENVELOPE_KEYS.intersection(record):
                            lines.append(
                                b'%s,"_position":%d%s' % (dumps(record)[:-1], ordinal - 1, suffix)
                            )
                        else:
                            record.update(envelope, _position=ordinal - 1)
                            lines.append(dumps(record))
                        continue
                error = error or "not_an_object: unreadable record"
                reasons[reason_code(error)] += 1
                quarantine_out.add(
                    dumps(
                        {
                            "reason": error,
                            "original": _as_text(raw, record),
                            "_position": position,
                            **envelope,
                        }
                    )
                )
            raw_out.add_lines(lines)
            unit_records += len(batch)
            if progress is not None:
                progress(len(batch))
        summary.read += unit_records
        if digest is not None:
            landed_units.append((digest, origin, unit_records))
        else:
            undigested = undigested or unit_records > 0
    summary.reasons = dict(sorted(reasons.items()))
    return undigested


def _record_run(runs: Store, summary: IngestSummary) -> None:
    key = f"ingest/{summary.source}/runs/{summary.run_id}.json"
    runs.write_bytes(key, orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2, default=str))
