"""A SQL database by SQLAlchemy URL, read incrementally by a watermark column."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lakelib.errors import IngestError
from lakelib.sources._base import DEFAULT_BATCH_SIZE, Item

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle", "duckdb")


def is_sql_url(text: str) -> bool:
    scheme = text.split("://", 1)[0] if "://" in text else ""
    return scheme.split("+", 1)[0] in SQL_SCHEMES


def redact(url: str) -> str:
    """A database URL safe to record: no password, no credential in its query."""
    from sqlalchemy.engine import make_url

    from lakelib.sources._redact import redact_url

    try:
        return redact_url(make_url(url).render_as_string(hide_password=True))
    except Exception:  # a URL too broken to parse: show only its scheme
        return url.split("://", 1)[0] + "://…"


@dataclass
class QueryUnit:
    source: SqlSource

    @property
    def origin(self) -> str:
        return f"{redact(self.source.url)} :: {self.source.statement_text()}"

    @property
    def digest(self) -> None:
        return None  # the watermark makes reruns incremental

    def batches(self, size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[Item]]:
        yield from self.source.read(size)


class SqlSource:
    """Rows of a table (or a query) newer than the last watermark seen.

    Parameters
    ----------
    url:
        SQLAlchemy URL, e.g. ``sqlite:///shop.db``.
    table / query:
        what to read (exactly one of them).
    watermark:
        column that only grows (an update time, an id); rows with a value greater than
        ``since`` are read in order, and :attr:`high_watermark` is the largest value seen.
    """

    kind = "sql"

    def __init__(
        self,
        url: str,
        *,
        table: str | None = None,
        query: str | None = None,
        watermark: str | None = None,
        since: Any = None,
    ) -> None:
        if (table is None) == (query is None):
            raise IngestError("a SQL source needs exactly one of --table or --query")
        for name, value in (("table", table), ("watermark column", watermark)):
            if value is not None and not _IDENTIFIER.fullmatch(value):
                raise IngestError(f"invalid {name} {value!r}")
        self.url = url
        self.table = table
        self.query = query
        self.watermark = watermark
        self.since = since
        self.high_watermark: Any = since

    def describe(self) -> str:
        return f"{redact(self.url)} ({self.table or 'query'})"

    def statement_text(self) -> str:
        base = f"SELECT * FROM {self.table}" if self.table else f"SELECT * FROM ({self.query}) AS q"
        if self.watermark:
            where = f" WHERE {self.watermark} > :since" if self.since is not None else ""
            return f"{base}{where} ORDER BY {self.watermark}"
        return base

    def units(self) -> Iterator[QueryUnit]:
        yield QueryUnit(self)

    def read(self, size: int) -> Iterator[list[Item]]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        try:
            engine = create_engine(self.url)
        except (ArgumentError, SQLAlchemyError, ImportError, ValueError) as exc:
            raise IngestError(f"cannot use database {redact(self.url)}: {exc}") from exc
        params = {"since": self.since} if self.watermark and self.since is not None else {}
        position = 0
        try:
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(
                    text(self.statement_text()), params
                )
                keys = list(result.keys())
                if self.watermark and self.watermark not in keys:
                    raise IngestError(f"watermark column {self.watermark!r} is not in the result")
                while rows := result.fetchmany(size):
                    batch = []
                    for row in rows:
                        position += 1
                        record = dict(zip(keys, row, strict=True))
                        batch.append(Item(record, None, None, position))
                        if self.watermark:
                            value = record[self.watermark]
                            if value is not None and (
                                self.high_watermark is None or value > self.high_watermark
                            ):
                                self.high_watermark = value
                    yield batch
        except SQLAlchemyError as exc:
            message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise IngestError(f"database {redact(self.url)}: {message}") from exc
        finally:
            engine.dispose()
