"""The small interface every lake store implements, and key hygiene shared by them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
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
