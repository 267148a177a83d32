"""Timestamps and run ids: the formats every record of the lake uses, written once.

>>> utc_now()                                  # doctest: +SKIP
'2026-11-29T14:30:05Z'
>>> run_id()                                   # doctest: +SKIP
'20261129T143005Z-0a1b2c3d'
"""

from __future__ import annotations

import datetime as dt
import uuid


def utc_now(timespec: str = "seconds") -> str:
    """Now in UTC as ISO 8601 with a ``Z`` (``timespec`` as :meth:`datetime.isoformat`)."""
    now = dt.datetime.now(dt.UTC)
    return now.isoformat(timespec=timespec).replace("+00:00", "Z")


def short_tag(length: int = 8) -> str:
    """A random hex tag that keeps ids made in the same second apart."""
    return uuid.uuid4().hex[:length]


def run_id(at: dt.datetime | None = None, tag: str | None = None) -> str:
    """An ETL or ingest run's id: ``YYYYMMDDTHHMMSSZ-<8 hex>`` (sorts by start time).

    ``at`` is a UTC time (default now); ``tag`` the hex part when the run also names its
    files with it (ingest does).
    """
    at = at or dt.datetime.now(dt.UTC)
    return f"{at:%Y%m%dT%H%M%SZ}-{tag or short_tag()}"


def job_name(prefix: str, at: dt.datetime | None = None) -> str:
    """A cloud job's name: ``<prefix>-YYYYMMDD-HHMMSS-<6 hex>`` (SageMaker's allowed characters)."""
    at = at or dt.datetime.now(dt.UTC)
    return f"{prefix}-{at:%Y%m%d-%H%M%S}-{short_tag(6)}"
