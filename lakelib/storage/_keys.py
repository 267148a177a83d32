"""The lake's key formats, built and parsed in exactly one place.

Raw key (DESIGN.md)::

    raw/<source>/year=YYYY/month=MM/day=DD/<source>_YYYYMMDD_HHMMSS[_ffffff_<tag>][_NNNNN].json.gz

``ffffff`` (microseconds) and ``<tag>`` (8 random hex digits, one per run) make a name unique
without looking at what is already there, so concurrent writers never need to list a folder
to pick a name; names still sort by landing time. Lakes landed before they existed keep
parsing (no ``_ffffff_<tag>`` part).

Partition values are always strings (``month="01"``), as Glue types them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from lakelib.errors import ValidationError
from lakelib.storage._names import validate_name

RAW_SUFFIX = ".json.gz"
DATE_PARTITION_KEYS = ("year", "month", "day")

_TAG = re.compile(r"[0-9a-f]{8}")
_RAW_FILE = re.compile(
    r"(?P<source>[a-z0-9_]+)_(?P<date>\d{8})_(?P<time>\d{6})"
    r"(?:_(?P<micro>\d{6})_(?P<tag>[0-9a-f]{8}))?(?:_(?P<seq>\d{5}))?\.json\.gz"
)


def date_partition(day: date) -> dict[str, str]:
    """``{"year": "2024", "month": "01", "day": "05"}`` for a date."""
    return {"year": f"{day.year:04d}", "month": f"{day.month:02d}", "day": f"{day.day:02d}"}


def partition_path(values: Mapping[str, str]) -> str:
    """Hive-style folder path ``k1=v1/k2=v2`` in the mapping's order."""
    parts = []
    for key, value in values.items():
        validate_name(key, "partition key")
        text = str(value)
        if not text or "/" in text or text in {".", ".."}:
            raise ValidationError(f"invalid value {text!r} for partition key {key!r}")
        parts.append(f"{key}={text}")
    return "/".join(parts)


def parse_partition_path(path: str) -> dict[str, str]:
    """Inverse of :func:`partition_path`; segments without ``=`` are an error."""
    values: dict[str, str] = {}
    for segment in path.strip("/").split("/"):
        if not segment:
            continue
        key, sep, value = segment.partition("=")
        if not sep or not key or not value:
            raise ValidationError(f"not a partition folder (want key=value): {segment!r}")
        values[key] = value
    return values


@dataclass(frozen=True, order=True)
class RawKey:
    """Where one landed raw file lives.

    ``landed_at`` is the run's arrival time (UTC); ``seq`` numbers the parts when one run
    splits its output past a size or record limit; ``tag`` (8 hex digits, random per run)
    makes the name unique among concurrent runs. With a tag the name carries the landing
    time to the microsecond; without one (names of older lakes) to the second.

    >>> when = datetime(2024, 1, 5, 2, 0, 0, 123456, tzinfo=UTC)
    >>> key = RawKey("sales", when, seq=1, tag="0a1b2c3d")
    >>> key.key
    'raw/sales/year=2024/month=01/day=05/sales_20240105_020000_123456_0a1b2c3d_00001.json.gz'
    >>> RawKey.parse(key.key) == key
    True
    >>> RawKey.parse("sales/year=2024/month=01/day=05/sales_20240105_020000.json.gz").landed_at
    datetime.datetime(2024, 1, 5, 2, 0, tzinfo=datetime.timezone.utc)
    """

    source: str
    landed_at: datetime
    seq: int | None = None
    tag: str | None = None

    def __post_init__(self) -> None:
        validate_name(self.source, "source")
        when = self.landed_at
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        if self.tag is None:
            when = when.replace(microsecond=0)
        elif not isinstance(self.tag, str) or not _TAG.fullmatch(self.tag):
            raise ValidationError(f"raw file tag must be 8 hex digits: {self.tag!r}")
        object.__setattr__(self, "landed_at", when)
        if self.seq is not None and not 0 <= self.seq <= 99_999:
            raise ValidationError(f"raw file sequence out of range 0..99999: {self.seq}")

    @property
    def partition(self) -> dict[str, str]:
        return date_partition(self.landed_at.date())

    @property
    def filename(self) -> str:
        stamp = self.landed_at.strftime("%Y%m%d_%H%M%S")
        if self.tag is not None:
            stamp += f"_{self.landed_at.microsecond:06d}_{self.tag}"
        seq = "" if self.seq is None else f"_{self.seq:05d}"
        return f"{self.source}_{stamp}{seq}{RAW_SUFFIX}"

    @property
    def relative(self) -> str:
        """The key inside the raw zone: ``<source>/year=.../<file>``."""
        return f"{self.source}/{partition_path(self.partition)}/{self.filename}"

    @property
    def key(self) -> str:
        """The key inside the lake, starting with the zone: ``raw/<source>/...``."""
        return f"raw/{self.relative}"

    def __str__(self) -> str:
        return self.key

    @classmethod
    def parse(cls, key: str) -> RawKey:
        """Parse a raw key, with or without the leading ``raw/``; a bad key is an error."""
        parts = key.strip("/").split("/")
        if parts and parts[0] == "raw":
            parts = parts[1:]
        if len(parts) != 5:
            raise ValidationError(f"not a raw key: {key!r}")
        source, *folders, filename = parts
        match = _RAW_FILE.fullmatch(filename)
        if match is None or match["source"] != source:
            raise ValidationError(f"not a raw file name for source {source!r}: {filename!r}")
        try:
            landed_at = datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
        except ValueError as exc:
            raise ValidationError(f"bad timestamp in raw key: {key!r}") from exc
        seq = int(match["seq"]) if match["seq"] else None
        if match["tag"]:
            landed_at = landed_at.replace(microsecond=int(match["micro"]))
        parsed = cls(source, landed_at.replace(tzinfo=UTC), seq, match["tag"])
        if parse_partition_path("/".join(folders)) != parsed.partition:
            raise ValidationError(f"raw key folders do not match its file name: {key!r}")
        return parsed
