"""The metadata layer: a catalog shaped like the Glue Data Catalog, and the crawler.

One model (:class:`Table`, :class:`Column`, :class:`Partition`, :class:`SchemaVersion`), two
backends behind :class:`Catalog`: :class:`LocalCatalog` (SQLite in the lake) and
:class:`GlueCatalog` (AWS Glue). :func:`open_catalog` picks one from the profile.

>>> from lakelib.catalog import crawl, open_catalog
>>> report = crawl("raw")                                           # doctest: +SKIP
>>> catalog = open_catalog()                                        # doctest: +SKIP
>>> catalog.list_partitions("raw_sales", {"year": "2024", "month": ["01", "02"]})  # doctest: +SKIP
>>> tables()                           # a DataFrame, one row per table   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakelib.catalog._backup import CatalogBackup, catalog_document, export_catalog, import_catalog
from lakelib.catalog._base import Catalog
from lakelib.catalog._crawler import (
    DEFAULT_ZONES,
    CrawlReport,
    TableReport,
    crawl,
    table_name_for,
)
from lakelib.catalog._glue import GlueCatalog
from lakelib.catalog._infer import SamplingBudget
from lakelib.catalog._local import LocalCatalog
from lakelib.catalog._model import (
    Column,
    ConcurrentUpdateError,
    Partition,
    PartitionFilter,
    SchemaVersion,
    Table,
    TableChange,
    TableNotFoundError,
    match_partition,
)
from lakelib.catalog._open import CATALOG_FILE, open_catalog, register_partitions
from lakelib.catalog._types import normalize as normalize_type
from lakelib.catalog._types import widen_text as widen_type
from lakelib.config import Settings

if TYPE_CHECKING:
    import pandas as pd


def tables(catalog: Catalog | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """The catalog's tables as a DataFrame, one row per table.

    Columns: ``table``, ``zone``, ``format``, ``compression``, ``columns`` (how many),
    ``partition_keys``, ``partitions`` (how many), ``version``, ``location``, ``description``.

    >>> tables()[["table", "zone", "partitions"]]                       # doctest: +SKIP
    """
    from lakelib.tables import tables_frame

    return tables_frame(catalog, settings)


__all__ = [
    "CATALOG_FILE",
    "DEFAULT_ZONES",
    "Catalog",
    "CatalogBackup",
    "Column",
    "ConcurrentUpdateError",
    "CrawlReport",
    "GlueCatalog",
    "LocalCatalog",
    "Partition",
    "PartitionFilter",
    "SamplingBudget",
    "SchemaVersion",
    "Table",
    "TableChange",
    "TableNotFoundError",
    "TableReport",
    "catalog_document",
    "crawl",
    "export_catalog",
    "import_catalog",
    "match_partition",
    "normalize_type",
    "open_catalog",
    "register_partitions",
    "table_name_for",
    "tables",
    "widen_type",
]
