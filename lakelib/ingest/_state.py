"""What ingestion remembers between runs: which inputs landed, and SQL watermarks.

Layout in the lake's ``runs`` zone, one small object per fact so that concurrent writers
(two ``lake serve-ingest`` processes, concurrent Lambda invocations, a CLI run) never rewrite
each other's entries and each request costs O(1) whatever the lake's size::

    ingest-state/<source>/landed/<dd>/<digest>.json     one per landed input (dd: 2 hex digits)
    ingest-state/<source>/watermarks/<hash>.json       one per SQL source and watermark column

A *landed marker* is created exclusively (``Store.create_bytes``: ``os.link`` locally,
``If-None-Match: *`` on S3) **after** the input's records were written to the raw zone, and
it is the run's commit point:

- a crash after the data and before the marker acknowledges nothing; the client's retry
  lands the input again and the ETL's dedup by ``id`` absorbs the orphaned first copy. The
  opposite order could answer "already landed" for data that never landed: an acknowledged
  loss, which is the one outcome the lake must never have.
- two writers landing the same input at once both write data, one creates the marker, the
  other finds it taken, deletes its own files and reports a duplicate: raw holds the input
  once.

Watermarks are overwritten per run (a lower value written last only makes the next run read
some rows again). The markers live outside ``ingest/`` so listings of run records (``lake
status``, the report) do not walk them. A lake written before this layout kept everything in
``ingest/<source>/state.json``; :meth:`IngestState.load` migrates it once, idempotently (a
copy stays as ``state.migrated.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Any

import orjson

from lakelib.errors import AlreadyExistsError, NotFoundError, StorageError
from lakelib.storage import Store

log = logging.getLogger(__name__)

# A marker found taken is read back before a writer gives way; if it vanished meanwhile
# (its writer failed and took it back) the create is tried again, this many times.
_CLAIM_ATTEMPTS = 3


def state_key(source: str) -> str:
    """The single state document of lakes written before per-input markers (read once)."""
    return f"ingest/{source}/state.json"


def marker_key(source: str, digest: str) -> str:
    """Where the marker of one landed input lives (sharded so no folder grows huge)."""
    name = digest if digest.isalnum() else hashlib.sha256(digest.encode()).hexdigest()
    return f"ingest-state/{source}/landed/{name[:2]}/{name}.json"


def watermark_key(source: str, key: str) -> str:
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"ingest-state/{source}/watermarks/{name}.json"


class IngestState:
    """Landed inputs and watermarks of one source, read and written one object at a time."""

    def __init__(self, store: Store, source: str) -> None:
        self.store = store
        self.source = source

    @classmethod
    def load(cls, store: Store, source: str) -> IngestState:
        """The state of ``source``, migrating a legacy ``state.json`` if one is there."""
        state = cls(store, source)
        state._migrate_legacy()
        return state

    def has(self, digest: str | None) -> bool:
        """Whether an input with this content digest has landed before."""
        if digest is None:
            return False
        try:
            self.store.read_bytes(marker_key(self.source, digest))
        except NotFoundError:
            return False
        return True

    def mark_landed(self, digest: str, info: dict[str, Any]) -> bool:
        """Record an input as landed; ``False`` if another run recorded it first."""
        key = marker_key(self.source, digest)
        data = orjson.dumps({"digest": digest, **info}, option=orjson.OPT_SORT_KEYS, default=str)
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                self.store.create_bytes(key, data)
            except AlreadyExistsError:
                try:
                    # Our own bytes (they name our run) when a client retried a PUT that had
                    # in fact succeeded: the marker is ours, not another run's.
                    return self.store.read_bytes(key) == data
                except NotFoundError:
                    continue  # the other writer took its marker back: try again
            return True
        return False

    def watermark(self, key: str) -> Any:
        try:
            data = orjson.loads(self.store.read_bytes(watermark_key(self.source, key)))
        except NotFoundError:
            return None
        except orjson.JSONDecodeError as exc:
            raise StorageError(f"watermark state for {self.source!r} is corrupt: {exc}") from exc
        return data.get("value")

    def set_watermark(self, key: str, value: Any) -> None:
        document = {"key": key, "value": value}
        self.store.write_bytes(watermark_key(self.source, key), orjson.dumps(document, default=str))

    def _migrate_legacy(self) -> None:
        """Turn a legacy ``state.json`` into markers; safe to run by several processes at once.

        Markers and watermarks are created only where none exist (a newer value wins), and
        the legacy document is removed only after all of them are written, so a process that
        dies half-way leaves it in place for the next one.
        """
        try:
            raw = self.store.read_bytes(state_key(self.source))
        except NotFoundError:
            return
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StorageError(f"ingest state for {self.source!r} is corrupt: {exc}") from exc
        landed = dict(data.get("landed", {}))
        for digest, info in landed.items():
            self.mark_landed(str(digest), dict(info) if isinstance(info, dict) else {})
        for key, value in dict(data.get("watermarks", {})).items():
            with contextlib.suppress(AlreadyExistsError):  # a newer value is there
                self.store.create_bytes(
                    watermark_key(self.source, key),
                    orjson.dumps({"key": key, "value": value}, default=str),
                )
        try:
            self.store.write_bytes(f"ingest/{self.source}/state.migrated.json", raw)
            self.store.delete(state_key(self.source))
        except (StorageError, OSError) as exc:
            # Every entry has its marker, so landing is right either way; only the next run
            # repeats the (idempotent) migration. A role without DeleteObject ends up here.
            log.warning("could not retire %s's legacy state.json: %s", self.source, exc)
            return
        log.info("migrated %d landed inputs of %s to per-input markers", len(landed), self.source)
