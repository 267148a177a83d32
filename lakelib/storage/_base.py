"""The small interface every lake store implements, and key hygiene shared by them."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from lakelib.errors import ValidationError


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its key relative to the store's root, size in bytes, mtime (UTC)."""

    key: str
    size: int
    modified: datetime


@runtime_checkable
class Store(Protocol):
    """Bytes under one root (a folder or an ``s3://bucket/prefix``), addressed by ``/`` keys."""

    @property
    def root(self) -> str:
        """The root as a URI or local path; engines read ``url(key)`` directly."""
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write atomically: readers see the old object or the new one, never half of it."""
        ...

    def create_bytes(self, key: str, data: bytes) -> None:
        """Create ``key`` with ``data`` only if it does not exist yet, atomically.

        Of several writers racing for one key exactly one succeeds; the others get
        :class:`~lakelib.errors.AlreadyExistsError` and the object keeps the winner's bytes.
        Landing writes through this, so no write can replace data someone else landed.
        """
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key; temp files are hidden."""
        ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str) -> str: ...

    def read_range(self, key: str, start: int, stop: int) -> bytes:
        """Bytes ``start`` up to (not including) ``stop`` of an object, fewer past its end.

        What a reader of file footers and heads uses (Parquet, gzip) instead of the whole object.
        """
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete the folder ``prefix`` and everything under it, hidden files too.

        Returns the number of objects deleted (0 when there was nothing).
        """
        ...

    def folders(self, prefix: str = "") -> builtins.list[str]:
        """Names of the folders directly under ``prefix``, sorted.

        A local store also names empty folders; S3 has no empty folders to name.
        """
        ...

    def replacing_folder(self, folder: str, tag: str) -> AbstractContextManager[str]:
        """Replace the folder ``folder`` whole: yields the key to write the new contents under.

        Locally the contents go to a hidden sibling (``_staging_<name>_<tag>``) that is swapped
        in by renames when the block ends, so readers see the old folder or the new one; an
        error in the block drops the staging folder and leaves the old one. S3 has no rename:
        the key yielded is ``folder`` itself, for a writer that overwrites in place (Spark).
        """
        ...

    def stage(self, key: str, *, durable: bool = True) -> StagedObject:
        """A local file to write ``key``'s bytes into, put in place by ``commit()`` at once.

        Locally it sits beside the final name (a rename puts it there); for S3 it is a temp
        file sent with one PUT. ``durable=False`` skips the fsyncs, for derived data (query
        results) where losing the last few to a power cut costs less than the fsync.
        """
        ...


@runtime_checkable
class StagedObject(Protocol):
    """An object being written through a local file (see :meth:`Store.stage`)."""

    @property
    def path(self) -> Path:
        """The local file to write; nothing is visible under the key until ``commit()``."""
        ...

    def commit(self) -> str:
        """Put the file's bytes under the key (atomically); returns the object's URL."""
        ...

    def abort(self) -> None:
        """Drop the file; the key is never touched."""
        ...


def clean_key(key: str) -> str:
    """Normalise a relative key and refuse anything that could escape the store's root."""
    if not isinstance(key, str) or not key:
        raise ValidationError("empty storage key")
    if "\\" in key or "\x00" in key or key.startswith("/"):
        raise ValidationError(f"invalid storage key {key!r}")
    parts = key.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise ValidationError(f"invalid storage key {key!r}: empty, '.' or '..' segment")
    return key


def is_hidden(name: str) -> bool:
    """Temp and marker files a reader should skip (``.tmp-*``, ``.crc``)."""
    return name.startswith(".")
