"""Gzip JSON-lines files in a zone, named by :class:`~lakelib.storage.RawKey`, split by size."""

from __future__ import annotations

import zlib
from datetime import datetime

from lakelib.storage import RawKey, Store, partition_path

# Level 6 is gzip's own default: near level 9's ratio at about twice the speed.
COMPRESS_LEVEL = 6
DEFAULT_MAX_RECORDS_PER_FILE = 500_000
DEFAULT_MAX_BYTES_PER_FILE = 128 * 1024 * 1024  # uncompressed
_CHUNK = 1 << 20


class GzipLinesWriter:
    """Collects JSON lines and writes them as ``<name>_YYYYMMDD_HHMMSS[_NNNNN].json.gz`` files.

    A run that fits in one file gets the plain name; past ``max_records`` or ``max_bytes``
    (uncompressed) it writes numbered parts. Each file is written whole, atomically, and a
    name already taken in the partition (an earlier run in the same second) is never reused.
    """

    def __init__(
        self,
        store: Store,
        name: str,
        landed_at: datetime,
        *,
        max_records: int = DEFAULT_MAX_RECORDS_PER_FILE,
        max_bytes: int = DEFAULT_MAX_BYTES_PER_FILE,
    ) -> None:
        self.store = store
        self.name = name
        self.landed_at = landed_at
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.keys: list[str] = []
        self.bytes_written = 0
        self.records = 0
        self._taken: set[str] | None = None
        self._next_seq = 0
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
        return RawKey(self.name, self.landed_at, seq).relative

    def _free_key(self, numbered: bool) -> str:
        if self._taken is None:
            folder = f"{self.name}/{partition_path(RawKey(self.name, self.landed_at).partition)}/"
            self._taken = {info.key for info in self.store.list(folder)}
        if not numbered and self._key(None) not in self._taken:
            return self._key(None)
        while self._key(self._next_seq) in self._taken:
            self._next_seq += 1
        return self._key(self._next_seq)

    def _flush(self, final: bool) -> None:
        if not self._file_records:
            return
        self._compress_pending()
        self._parts.append(self._compressor.flush())
        data = b"".join(self._parts)
        key = self._free_key(numbered=not (final and not self.keys))
        self.store.write_bytes(key, data)
        assert self._taken is not None
        self._taken.add(key)
        self.keys.append(key)
        self.bytes_written += len(data)
        self.records += self._file_records
        self._reset()

    def close(self) -> list[str]:
        """Write what is left; return every key written."""
        self._flush(final=True)
        return self.keys
