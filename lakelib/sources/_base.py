"""What every source yields: input units (a file, a page, a query) made of records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

Record = dict[str, Any]

DEFAULT_BATCH_SIZE = 10_000
# Where APIs and their exports put the list of records in a JSON object.
RECORD_KEYS = ("records", "data", "items", "results")
# A single record larger than this is quarantined rather than landed: Athena and the
# OpenX JSON SerDe choke on multi-megabyte rows long before Spark does.
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024


class Item(NamedTuple):
    """One record as read: parsed, or not, with the reason it could not be.

    ``raw`` is the original text where the format has one (a JSON line, a CSV row), so a
    quarantined record keeps exactly what arrived.
    """

    record: Record | None
    raw: bytes | str | None
    error: str | None
    position: int


class InputUnit(Protocol):
    """One unit of input that is landed, skipped or re-landed as a whole (idempotency)."""

    @property
    def origin(self) -> str:
        """Where it came from: a file name, a URL, a query."""
        ...

    @property
    def digest(self) -> str | None:
        """SHA-256 of its content, or ``None`` when the source has its own incrementality."""
        ...

    def batches(self, size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[Item]]:
        """Records in batches of at most ``size``; never the whole input in memory."""
        ...


class Source(Protocol):
    """A place records come from: files, an HTTP API, a SQL database."""

    kind: str

    def units(self) -> Iterator[InputUnit]: ...

    def describe(self) -> str: ...


def failed(reason: str, raw: bytes | str | None, position: int) -> Item:
    return Item(None, raw, reason, position)
