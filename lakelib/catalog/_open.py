"""Choose the catalog backend once, from the profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lakelib.catalog._base import Catalog
from lakelib.config import Settings, get_settings

CATALOG_FILE = "catalog.sqlite"


def open_catalog(settings: Settings | None = None) -> Catalog:
    """The catalog for the settings' profile.

    The local profile keeps it in SQLite at ``<LAKE_HOME>/catalog.sqlite``; the aws profile
    uses the Glue Data Catalog database ``settings.database`` in ``settings.region``.

    Examples
    --------
    >>> catalog = open_catalog()                                    # doctest: +SKIP
    >>> [t.name for t in catalog.list_tables()]                     # doctest: +SKIP
    ['customer_aggregates', 'raw_sales', 'sales_clean']
    """
    settings = settings or get_settings()
    if settings.is_local:
        from lakelib.catalog._local import LocalCatalog

        return LocalCatalog(settings.home / CATALOG_FILE, settings.database)
    from lakelib.catalog._glue import GlueCatalog

    return GlueCatalog(settings.database, region=settings.region)


def register_partitions(
    table: str,
    values: Iterable[Mapping[str, str]],
    *,
    catalog: Catalog | None = None,
    settings: Settings | None = None,
) -> int:
    """Register partitions a job has just written, under the table's own location.

    Idempotent: partitions already registered at the same place are left alone.

    Examples
    --------
    >>> day = {"year": "2024", "month": "01", "day": "05"}
    >>> register_partitions("sales_clean", [day])                   # doctest: +SKIP
    1
    """
    catalog = catalog or open_catalog(settings)
    stored = catalog.get_table(table)
    return catalog.add_partitions(table, [stored.partition(v) for v in values])
