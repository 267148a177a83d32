"""Choose the catalog backend once, from the profile."""

from __future__ import annotations

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
