"""Gzip JSON-lines files in a zone, named by :class:`~lakelib.storage.RawKey`, split by size.

Landing never overwrites: each file is created exclusively (``Store.create_bytes``) under a
name unique to its run (landing time to the microsecond plus a random tag), so two writers
on one lake (two webhook processes, concurrent Lambda invocations, a CLI run next to them)
neither collide nor need to list a folder to pick a free name.
"""

from __future__ import annotations

import logging
import secrets
import zlib
from datetime import datetime

from lakelib.errors import AlreadyExistsError, LakeError
from lakelib.storage import RawKey, Store

log = logging.getLogger(__name__)

# Level 6 is gzip's own default: near level 9's ratio at about twice the speed.
COMPRESS_LEVEL = 6
DEFAULT_MAX_RECORDS_PER_FILE = 500_000
DEFAULT_MAX_BYTES_PER_FILE = 128 * 1024 * 1024  # uncompressed
_CHUNK = 1 << 20
# A name is taken only if another run drew the same 32-bit tag in the same microsecond;
# a few fresh draws make a second clash as good as impossible.
_NAME_ATTEMPTS = 5


class GzipLinesWriter:
    """Collects JSON lines and writes them as gzip files named by :class:`RawKey`.

    A run that fits in one file gets the name without a part number; past ``max_records`` or
    ``max_bytes`` (uncompressed) it writes numbered parts. Each file is created whole,
    atomically and exclusively; :meth:`discard` deletes what this writer created (a run that
    fails takes its files back, so a retry does not land them twice).
    """

    def __init__(
        self,
        store: Store,
        name: str,
        landed_at: datetime,
        *,
        max_records: int = DEFAULT_MAX_RECORDS_PER_FILE,
        max_bytes: int = DEFAULT_MAX_BYTES_PER_FILE,
        tag: str | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.landed_at = landed_at
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.keys: list[str] = []
        self.bytes_written = 0
        self.records = 0
        # The run's tag (8 hex digits; the run id's suffix) ties its files to its record.
        self.tag = tag or secrets.token_hex(4)
        self._reset()

    def _reset(self) -> None:
        self._compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 31)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._parts: list[bytes] = []
        self._file_records = 0
        self._file_bytes = 0

    def add(self, line: bytes) -> None:
        self._pending.append(line)
        size = len(line) + 1
        self._pending_bytes += size
        self._file_bytes += size
        self._file_records += 1
        if self._pending_bytes >= _CHUNK:
            self._compress_pending()
        if self._file_records >= self.max_records or self._file_bytes >= self.max_bytes:
            self._flush(final=False)

    def add_lines(self, lines: list[bytes]) -> None:
        """Add many lines at once (the fast path; splits files exactly like :meth:`add`)."""
        if not lines:
            return
        size = sum(map(len, lines)) + len(lines)
        if (
            self._file_records + len(lines) >= self.max_records
            or self._file_bytes + size >= self.max_bytes
        ):
            for line in lines:
                self.add(line)
            return
        self._pending.extend(lines)
        self._pending_bytes += size
        self._file_bytes += size
        self._file_records += len(lines)
        if self._pending_bytes >= _CHUNK:
            self._compress_pending()

    def _compress_pending(self) -> None:
        if self._pending:
            self._pending.append(b"")
            self._parts.append(self._compressor.compress(b"\n".join(self._pending)))
            self._pending = []
            self._pending_bytes = 0

    def _key(self, seq: int | None) -> str:
        return RawKey(self.name, self.landed_at, seq, self.tag).relative

    def _create(self, seq: int | None, data: bytes) -> str:
        for _ in range(_NAME_ATTEMPTS):
            key = self._key(seq)
            try:
                self.store.create_bytes(key, data)
            except AlreadyExistsError:
                if self._holds(key, data):  # a retried PUT that had in fact succeeded
                    return key
                log.warning("raw file name %s taken by another run; drawing a new tag", key)
                self.tag = secrets.token_hex(4)
                continue
            return key
        raise AlreadyExistsError(f"no free name for {self.name} after {_NAME_ATTEMPTS} tries")

    def _holds(self, key: str, data: bytes) -> bool:
        try:
            return self.store.read_bytes(key) == data
        except LakeError:
            return False

    def _flush(self, final: bool) -> None:
        if not self._file_records:
            return
        self._compress_pending()
        self._parts.append(self._compressor.flush())
        data = b"".join(self._parts)
        seq = None if final and not self.keys else len(self.keys)
        key = self._create(seq, data)
        self.keys.append(key)
        self.bytes_written += len(data)
        self.records += self._file_records
        self._reset()

    def close(self) -> list[str]:
        """Write what is left; return every key written."""
        self._flush(final=True)
        return self.keys

    def discard(self) -> None:
        """Delete every file this writer created and forget what it buffered (best effort)."""
        for key in self.keys:
            try:
                self.store.delete(key)
            except (
                LakeError,
                OSError,
            ) as exc:  # the run's own error matters more; say what is left
                log.error("could not take back %s after a failed run: %s", key, exc)
        self.keys = []
        self.bytes_written = 0
        self.records = 0
        self._reset()
