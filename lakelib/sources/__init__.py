"""Where records come from: files, HTTP APIs and SQL databases, behind one interface.

Every source yields *input units* (a file, a page, a query) whose records arrive in
batches, so no input is ever held in memory whole.

>>> from lakelib.sources import open_source
>>> source = open_source("samples/sales/")          # doctest: +SKIP
>>> for unit in source.units():                     # doctest: +SKIP
...     for batch in unit.batches(10_000): ...
"""

from __future__ import annotations

from typing import Any

from lakelib.sources._base import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_RECORD_BYTES,
    InputUnit,
    Item,
    Record,
    Source,
)
from lakelib.sources._files import (
    FORMATS,
    FileSource,
    csv_header,
    detect_format,
    dumps,
    strip_bom,
)
from lakelib.sources._http import HttpSource
from lakelib.sources._payload import PayloadSource
from lakelib.sources._redact import is_reference, is_secret_name, redact_url, resolve_header
from lakelib.sources._sql import SqlSource, is_sql_url, redact

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_RECORD_BYTES",
    "FORMATS",
    "FileSource",
    "HttpSource",
    "InputUnit",
    "Item",
    "PayloadSource",
    "Record",
    "Source",
    "SqlSource",
    "csv_header",
    "detect_format",
    "dumps",
    "is_reference",
    "is_secret_name",
    "open_source",
    "redact",
    "redact_url",
    "resolve_header",
    "strip_bom",
]


def open_source(location: str, **options: Any) -> Source:
    """The source a ``--from`` value names: an http(s) URL, a SQLAlchemy URL or a path/glob.

    ``options`` go to the source's constructor (``fmt`` / ``csv_fields`` for files,
    ``table`` / ``query`` / ``watermark`` / ``since`` for SQL, ``timeout`` / ``retries`` /
    ``headers`` for HTTP); options meant for another kind of source are ignored.
    """
    import inspect

    kind: type[Any]
    if location.startswith(("http://", "https://")):
        kind = HttpSource
    elif is_sql_url(location):
        kind = SqlSource
    else:
        kind = FileSource
    accepted = inspect.signature(kind.__init__).parameters
    return kind(location, **{k: v for k, v in options.items() if k in accepted and v is not None})
