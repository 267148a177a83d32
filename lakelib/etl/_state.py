"""Where the ETL keeps its state in the lake: bookmarks, the run lock, run records.

Bookmarks are Spark's own: each job reads the raw zone as a streaming file source with
``Trigger.AvailableNow`` and a checkpoint at ``runs/etl/<job>/checkpoint/``; Spark's file
source log there lists every raw file a committed batch processed, so the next run reads
only files not in it. This module only reads that log (for ``lake etl --bookmarks``),
deletes it (``--full``) and records a rewind date (``--since``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lakelib.config import Settings, Zone
from lakelib.errors import AlreadyExistsError, ConfigError, EtlError, NotFoundError
from lakelib.storage import Store

log = logging.getLogger(__name__)


def job_prefix(job: str) -> str:
    return f"etl/{job}"


def checkpoint_key(job: str) -> str:
    return f"{job_prefix(job)}/checkpoint"


def checkpoint_uri(job: str, settings: Settings) -> str:
    """The job's streaming checkpoint (its bookmark) in the runs zone."""
    return settings.store(Zone.RUNS).url(checkpoint_key(job))


def rewind_key(job: str) -> str:
    return f"{job_prefix(job)}/rewind.json"


@dataclass
class Bookmark:
    """What a job has processed: raw files by committed batch (from Spark's checkpoint)."""

    job: str
    checkpoint: str
    batches: int = 0
    files: int = 0
    last_batch: int | None = None
    first_arrival: str | None = None
    last_arrival: str | None = None
    last_file: str | None = None
    rewind_since: str | None = None
    processed: list[str] = field(default_factory=list)

    def as_dict(self, *, with_files: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_files:
            data.pop("processed")
        return data


def _arrival(path: str) -> str | None:
    parts = {k: v for k, _, v in (p.partition("=") for p in path.split("/")) if v}
    try:
        return f"{parts['year']}-{parts['month']}-{parts['day']}"
    except KeyError:
        return None


def read_bookmark(job: str, settings: Settings) -> Bookmark:
    """The job's bookmark: committed batches and the raw files they processed.

    Reads Spark's file source log (``sources/0/<batch>[.compact]``: a ``v1`` line, then one
    JSON object per file) and keeps the files of committed batches (``commits/<batch>``).
    """
    runs = settings.store(Zone.RUNS)
    base = checkpoint_key(job)
    mark = Bookmark(job, runs.url(base))
    try:
        rewind = json.loads(runs.read_bytes(rewind_key(job)))
        mark.rewind_since = str(rewind.get("since"))
    except NotFoundError:
        pass
    commits = []
    for info in runs.list(f"{base}/commits/"):
        name = info.key.rsplit("/", 1)[-1]
        if name.isdigit():
            commits.append(int(name))
    if not commits:
        return mark
    last = max(commits)
    files: dict[str, int] = {}
    for info in runs.list(f"{base}/sources/0/"):
        name = info.key.rsplit("/", 1)[-1]
        if not name.split(".")[0].isdigit():
            continue
        for line in runs.read_bytes(info.key).decode().splitlines()[1:]:
            if line.strip():
                entry = json.loads(line)
                if int(entry.get("batchId", 0)) <= last:
                    files[entry["path"]] = int(entry.get("batchId", 0))
    mark.batches = len(commits)
    mark.last_batch = last
    mark.files = len(files)
    mark.processed = sorted(files)
    arrivals = sorted(a for a in map(_arrival, files) if a)
    if arrivals:
        mark.first_arrival, mark.last_arrival = arrivals[0], arrivals[-1]
    if files:
        mark.last_file = max(files, key=lambda p: (files[p], p)).rsplit("/", 1)[-1]
    return mark


def reset_bookmark(job: str, settings: Settings, *, since: date | None = None) -> None:
    """Forget what ``job`` processed: all of it, or (``since``) files arriving from that date.

    Spark's checkpoint cannot be cut at a date, so a rewind deletes it and records the date:
    the next run reads the raw zone again but keeps only files that arrived on or after
    ``since`` (files before it are marked processed without being read into the tables).
    """
    runs = settings.store(Zone.RUNS)
    removed = runs.delete_prefix(checkpoint_key(job))
    if since is None:
        runs.delete(rewind_key(job))
    else:
        runs.write_bytes(rewind_key(job), json.dumps({"since": since.isoformat()}).encode())
    log.info("bookmark of %s reset (%d checkpoint files removed, since=%s)", job, removed, since)


def clear_rewind(job: str, settings: Settings) -> None:
    settings.store(Zone.RUNS).delete(rewind_key(job))


# -- the run locks -----------------------------------------------------------------------------
#
# One lock per job, at runs/etl/<job>/lock/. The lock is a sequence of generations, each an
# object created exclusively (``Store.create_bytes``: a hard link locally, ``If-None-Match: *``
# on S3) and never rewritten: ``<n>.json`` says who took the lock (``state: held``) or that it
# was let go (``state: released``). The newest generation is the lock's state. Taking the lock,
# whether free or stale, is creating generation n+1 after reading n: of several processes that
# read n, exactly one creates n+1; the others find it exists, read it again and see a live
# holder. Letting go is creating n+1 as ``released`` (if someone took a stale lock over
# meanwhile, that create fails and the run says so). Older generations are deleted by whoever
# writes a newer one, so the folder holds one or two small objects.

DEFAULT_LOCK_TIMEOUT_MINUTES = 120.0  # the Glue jobs' default timeout in the Pulumi program
_LOCK_ATTEMPTS = 50


def lock_prefix(job: str) -> str:
    """The folder of ``job``'s lock generations in the runs zone."""
    return f"{job_prefix(job)}/lock/"


def _generation_key(job: str, generation: int) -> str:
    # Zero-padded: the listing (sorted by key) is in generation order.
    return f"{lock_prefix(job)}{generation:012d}.json"


def lock_timeout_minutes(settings: Settings) -> float:
    """``[etl] lock_timeout_minutes``: how old a held lock must be before another run takes it
    over (default 120, the Glue jobs' timeout: a run past it has been stopped)."""
    value = settings.section("etl").get("lock_timeout_minutes", DEFAULT_LOCK_TIMEOUT_MINUTES)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(
            f"[etl] lock_timeout_minutes in {settings.config_source or 'lake.toml'} must be a "
            f"positive number of minutes, not {value!r}"
        )
    return float(value)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (Linux: clock ticks since boot), to tell a reused pid
    from the lock's holder; ``None`` where ``/proc`` does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _holder_text(holder: Mapping[str, Any]) -> str:
    return (
        f"{holder.get('job', '?')} run (pid {holder.get('pid', '?')} on "
        f"{holder.get('host', '?')}, started {holder.get('started', '?')})"
    )


def _started(holder: Mapping[str, Any], fallback: datetime | None) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(holder["started"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return fallback
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _stale(
    holder: Mapping[str, Any], modified: datetime | None, *, local: bool, timeout: float
) -> str | None:
    """Why a held lock can be taken over, or ``None`` while its holder may be running.

    On a local lake a holder on this host is judged by its process: gone (or its pid now
    belongs to a newer process) means stale, running means not, however long it runs. A
    holder elsewhere, and any holder on S3 (a Glue or EMR run: its host and pid mean
    nothing here), is stale once older than the timeout, after which Glue has stopped it.
    """
    try:
        pid = int(holder.get("pid") or 0)
    except (TypeError, ValueError):
        pid = 0
    if local and pid and holder.get("host") == socket.gethostname():
        if not _pid_alive(pid):
            return "that process is no longer running"
        started = holder.get("pid_start")
        if started and _process_start(pid) not in (None, started):
            return f"pid {pid} now belongs to another process"
        return None
    since = _started(holder, modified)
    if since is None:
        return None
    age = (datetime.now(UTC) - since).total_seconds() / 60
    if age > timeout:
        return f"it is {age:.0f} min old, older than the lock timeout of {timeout:g} min"
    return None


@dataclass
class _Lock:
    """One job's lock in one store, as this process holds it."""

    store: Store
    job: str
    local: bool
    holder: dict[str, Any]
    generation: int = 0

    @property
    def where(self) -> str:
        return self.store.url(lock_prefix(self.job).rstrip("/")) + "/"

    def _generations(self) -> list[tuple[int, datetime]]:
        # A generation pruned by another process while this lists is simply not listed.
        found = []
        for info in self.store.list(lock_prefix(self.job)):
            stem = info.key.rsplit("/", 1)[-1].removesuffix(".json")
            if stem.isdigit():
                found.append((int(stem), info.modified))
        return sorted(found)

    def _read(self, generation: int) -> dict[str, Any] | None:
        try:
            data = json.loads(self.store.read_bytes(_generation_key(self.job, generation)))
        except NotFoundError:
            return None  # deleted by a newer generation's writer since the listing
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {"state": "held"}  # unreadable: held by someone unknown (judged by age)
        return data if isinstance(data, dict) else {"state": "held"}

    def _prune(self, below: int) -> None:
        for generation, _ in self._generations():
            if generation < below:
                self.store.delete(_generation_key(self.job, generation))

    def acquire(self, timeout: float) -> None:
        for _ in range(_LOCK_ATTEMPTS):
            generations = self._generations()
            current, modified = generations[-1] if generations else (0, None)
            holder = self._read(current) if generations else None
            if generations and holder is None:
                continue
            why = None
            if holder is not None and holder.get("state") != "released":
                why = _stale(holder, modified, local=self.local, timeout=timeout)
                if why is None:
                    raise EtlError(self._busy(holder, timeout))
            mine = current + 1
            body = {**self.holder, "state": "held", "generation": mine}
            try:
                self.store.create_bytes(_generation_key(self.job, mine), _json(body))
            except AlreadyExistsError:
                continue  # another process moved first: read what it wrote
            # A number below the newest can be free again (older generations are deleted):
            # creating one wins nothing. The newest never goes, so this check is final.
            latest = self._generations()
            if not latest or latest[-1][0] != mine:
                self.store.delete(_generation_key(self.job, mine))
                continue
            if why is not None and holder is not None:
                log.warning(
                    "taking over the %s lock %s from %s: %s",
                    self.job,
                    self.where,
                    _holder_text(holder),
                    why,
                )
            self.generation = mine
            self._prune(below=mine)
            return
        raise EtlError(f"could not take the {self.job} lock {self.where}: it kept changing hands")

    def release(self) -> None:
        released = {**self.holder, "state": "released", "generation": self.generation + 1}
        try:
            self.store.create_bytes(_generation_key(self.job, self.generation + 1), _json(released))
        except AlreadyExistsError:
            taker = self._read(self.generation + 1) or {}
            log.warning(
                "the %s lock %s was taken over by %s while this run held it",
                self.job,
                self.where,
                _holder_text(taker),
            )
            return
        self._prune(below=self.generation + 1)

    def _busy(self, holder: Mapping[str, Any], timeout: float) -> str:
        when = (
            "once that process has ended"
            if self.local and holder.get("host") == socket.gethostname()
            else f"once it is older than {timeout:g} min ([etl] lock_timeout_minutes)"
        )
        return (
            f"another {_holder_text(holder)} holds the {self.job} lock {self.where}; wait "
            f"for it to finish (a later run takes the lock over {when})"
        )


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True).encode()


@contextmanager
def etl_lock(
    job: str,
    settings: Settings,
    *,
    reads: Sequence[str] = (),
    timeout_minutes: float | None = None,
) -> Iterator[None]:
    """Hold ``job``'s lock (and the locks of the jobs whose tables it ``reads``) for a run.

    One lock per job: two runs of one job never overlap; different jobs run at once unless
    one reads what the other writes. ``curate`` reads ``sales_clean``, whose run replaces
    partition folders in place, so ``curate`` holds the ``sales_clean`` lock too, and the
    two never run at once (a curate run would otherwise see some partitions before a batch
    and some after it, or find files gone).

    A second run fails at once with who holds the lock. A stale lock is taken over, with a
    warning naming its holder: on a local lake when the holding process is gone from this
    host, otherwise (S3, or another host) when it is older than ``timeout_minutes``
    (default ``[etl] lock_timeout_minutes``, 120). Of several processes taking a stale lock
    over at once exactly one wins: every change of the lock is a new generation, created
    exclusively (see "the run locks" in this module).

    Raises
    ------
    EtlError
        another run holds one of the locks.
    """
    timeout = lock_timeout_minutes(settings) if timeout_minutes is None else timeout_minutes
    runs = settings.store(Zone.RUNS)
    local = not runs.root.startswith("s3://")
    holder = {
        "pid": os.getpid(),
        "pid_start": _process_start(os.getpid()),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "job": job,
        "token": uuid.uuid4().hex,
    }
    held: list[_Lock] = []
    try:
        # A fixed order, so two runs wanting the same locks meet at the first one.
        for name in sorted({job, *reads}):
            lock = _Lock(runs, name, local, holder)
            lock.acquire(timeout)
            held.append(lock)
        yield
    finally:
        for lock in reversed(held):
            lock.release()


# -- run records -------------------------------------------------------------------------------


def write_run_record(job: str, run_id: str, record: dict[str, Any], settings: Settings) -> str:
    """Write ``runs/etl/<job>/<run_id>.json``; returns its key in the runs zone."""
    key = f"{job_prefix(job)}/{run_id}.json"
    settings.store(Zone.RUNS).write_bytes(
        key, json.dumps(record, indent=2, sort_keys=True, default=str).encode()
    )
    return key


def list_run_records(job: str, settings: Settings) -> list[dict[str, Any]]:
    """Run records of ``job``, oldest first."""
    runs = settings.store(Zone.RUNS)
    records = []
    for info in runs.list(f"{job_prefix(job)}/"):
        rest = info.key[len(job_prefix(job)) + 1 :]
        if "/" in rest or not rest.endswith(".json") or rest == "rewind.json":
            continue
        records.append(json.loads(runs.read_bytes(info.key)))
    return sorted(records, key=lambda r: str(r.get("started", "")))
