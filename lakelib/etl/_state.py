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
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lakelib.config import Settings, Zone
from lakelib.errors import EtlError, NotFoundError
from lakelib.storage import LocalStore, S3Store, Store, zone_store

log = logging.getLogger(__name__)

LOCK_KEY = "etl/lock.json"


def job_prefix(job: str) -> str:
    return f"etl/{job}"


def checkpoint_key(job: str) -> str:
    return f"{job_prefix(job)}/checkpoint"


def checkpoint_uri(job: str, settings: Settings) -> str:
    """The job's streaming checkpoint (its bookmark) in the runs zone."""
    return zone_store(Zone.RUNS, settings).url(checkpoint_key(job))


def rewind_key(job: str) -> str:
    return f"{job_prefix(job)}/rewind.json"


def delete_prefix(store: Store, prefix: str) -> int:
    """Delete every object under ``prefix`` (a local folder goes whole, hidden files too)."""
    if isinstance(store, LocalStore):
        folder = store.path(prefix)
        if not folder.exists():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return count
    count = 0
    for info in list(store.list(prefix.rstrip("/") + "/")):
        store.delete(info.key)
        count += 1
    return count


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
    runs = zone_store(Zone.RUNS, settings)
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
    runs = zone_store(Zone.RUNS, settings)
    removed = delete_prefix(runs, checkpoint_key(job))
    if since is None:
        runs.delete(rewind_key(job))
    else:
        runs.write_bytes(rewind_key(job), json.dumps({"since": since.isoformat()}).encode())
    log.info("bookmark of %s reset (%d checkpoint files removed, since=%s)", job, removed, since)


def clear_rewind(job: str, settings: Settings) -> None:
    zone_store(Zone.RUNS, settings).delete(rewind_key(job))


# -- the run lock ------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_message(holder: dict[str, Any]) -> str:
    return (
        f"another etl run (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"started {holder.get('started', '?')}, job {holder.get('job', '?')}) holds the lock "
        f"{holder.get('where', '')}; wait for it to finish (or, if that process is gone on "
        "another machine, delete the lock file)"
    )


@contextmanager
def etl_lock(job: str, settings: Settings) -> Iterator[None]:
    """Hold the lake's ETL lock for the duration of a run; a second run fails with who has it.

    Local lake: a file created with ``O_EXCL`` (a lock left by a dead process on this host
    is taken over). S3: an object written with ``If-None-Match: *``.
    """
    runs = zone_store(Zone.RUNS, settings)
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "job": job,
        "where": runs.url(LOCK_KEY),
    }
    body = json.dumps(holder).encode()
    if isinstance(runs, LocalStore):
        path = runs.path(LOCK_KEY)
        _acquire_local(path, body)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
        return
    if isinstance(runs, S3Store):
        _acquire_s3(runs, body)
        try:
            yield
        finally:
            runs.delete(LOCK_KEY)
        return
    yield  # pragma: no cover - no other store kinds exist


def _acquire_local(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                current = json.loads(path.read_text() or "{}")
            except (OSError, json.JSONDecodeError):
                current = {}
            same_host = current.get("host") == socket.gethostname()
            pid = int(current.get("pid") or 0)
            if same_host and pid and not _pid_alive(pid):
                log.warning("taking over the etl lock left by pid %d (no longer running)", pid)
                path.unlink(missing_ok=True)
                continue
            current.setdefault("where", str(path))
            raise EtlError(_lock_message(current)) from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        return
    raise EtlError(f"could not take the etl lock {path}")


def _acquire_s3(store: S3Store, body: bytes) -> None:
    from botocore.exceptions import ClientError

    key = store.prefix + LOCK_KEY
    try:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=body, IfNoneMatch="*")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
            try:
                current = json.loads(store.read_bytes(LOCK_KEY))
            except (NotFoundError, json.JSONDecodeError):
                current = {}
            current.setdefault("where", store.url(LOCK_KEY))
            raise EtlError(_lock_message(current)) from None
        raise EtlError(f"cannot take the etl lock {store.url(LOCK_KEY)}: {code or exc}") from exc


# -- run records -------------------------------------------------------------------------------


def write_run_record(job: str, run_id: str, record: dict[str, Any], settings: Settings) -> str:
    """Write ``runs/etl/<job>/<run_id>.json``; returns its key in the runs zone."""
    key = f"{job_prefix(job)}/{run_id}.json"
    zone_store(Zone.RUNS, settings).write_bytes(
        key, json.dumps(record, indent=2, sort_keys=True, default=str).encode()
    )
    return key


def list_run_records(job: str, settings: Settings) -> list[dict[str, Any]]:
    """Run records of ``job``, oldest first."""
    runs = zone_store(Zone.RUNS, settings)
    records = []
    for info in runs.list(f"{job_prefix(job)}/"):
        rest = info.key[len(job_prefix(job)) + 1 :]
        if "/" in rest or not rest.endswith(".json") or rest == "rewind.json":
            continue
        records.append(json.loads(runs.read_bytes(info.key)))
    return sorted(records, key=lambda r: str(r.get("started", "")))
