"""Catalog backup and restore (disaster recovery): one deterministic JSON document.

Keys are sorted, tables by name, partitions by values, history by version, and nothing in
the file depends on when it was written: importing an export into an empty catalog and
exporting again gives the same bytes, on either backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakelib.catalog._base import Catalog
from lakelib.catalog._model import (
    Partition,
    SchemaVersion,
    Table,
    history_from_json,
    history_to_json,
    table_from_json,
    table_to_json,
)
from lakelib.config import Settings
from lakelib.errors import CatalogError, LakeError
from lakelib.storage import atomic_write_bytes, open_store

FORMAT = "lakelib-catalog"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CatalogBackup:
    """What an export or import moved."""

    location: str
    database: str
    tables: int
    partitions: int


def catalog_document(catalog: Catalog) -> dict[str, Any]:
    """The whole catalog as a JSON-ready dict (what :func:`export_catalog` writes)."""
    tables = []
    for table in catalog.list_tables():
        entry = table_to_json(table)
        entry["partitions"] = [
            {"values": dict(p.values), "location": p.location}
            for p in catalog.list_partitions(table.name)
        ]
        entry["history"] = [history_to_json(h) for h in catalog.schema_history(table.name)]
        tables.append(entry)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "database": catalog.database,
        "tables": tables,
    }


def dumps(document: dict[str, Any]) -> bytes:
    # sort_keys reorders partition values too; import puts them back in partition-key order.
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _catalog(catalog: Catalog | None, settings: Settings | None) -> Catalog:
    if catalog is not None:
        return catalog
    from lakelib.catalog._open import open_catalog

    return open_catalog(settings)


def _write(target: str, data: bytes) -> None:
    if target.startswith("s3://"):
        parent, _, name = target.rstrip("/").rpartition("/")
        if not name or parent in {"s3:", "s3:/"}:
            raise CatalogError(f"export target needs an object name: {target}")
        open_store(parent).write_bytes(name, data)
    else:
        try:
            atomic_write_bytes(Path(target).expanduser(), data)
        except OSError as exc:
            raise CatalogError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _read(source: str) -> bytes:
    if source.startswith("s3://"):
        parent, _, name = source.rstrip("/").rpartition("/")
        return open_store(parent).read_bytes(name)
    try:
        return Path(source).expanduser().read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read {source}: {exc.strerror or exc}") from exc


def export_catalog(
    target: str | Path, *, catalog: Catalog | None = None, settings: Settings | None = None
) -> CatalogBackup:
    """Write the catalog to ``target``: a local path or ``s3://bucket/key.json``.

    Examples
    --------
    >>> export_catalog("s3://backups/catalog/2024-01-05.json")     # doctest: +SKIP
    CatalogBackup(location='s3://backups/...', database='data_lake_db', tables=3, ...)
    """
    catalog = _catalog(catalog, settings)
    document = catalog_document(catalog)
    _write(str(target), dumps(document))
    return CatalogBackup(
        str(target),
        catalog.database,
        len(document["tables"]),
        sum(len(t["partitions"]) for t in document["tables"]),
    )


def parse_document(
    data: bytes,
) -> list[tuple[dict[str, Any], list[dict[str, Any]], list[SchemaVersion]]]:
    """Validate an export file before anything is written; return its tables' raw parts."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"not a catalog export: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CatalogError(f"not a catalog export (want format {FORMAT!r})")
    if int(document.get("format_version", 0)) > FORMAT_VERSION:
        raise CatalogError(
            f"catalog export format {document['format_version']} is newer than this lakelib"
        )
    parts = []
    try:
        for entry in document["tables"]:
            history = [history_from_json(h) for h in entry.get("history", [])]
            parts.append((entry, list(entry.get("partitions", [])), history))
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"malformed catalog export: {exc}") from exc
    return parts


def import_catalog(
    source: str | Path,
    *,
    catalog: Catalog | None = None,
    settings: Settings | None = None,
    replace: bool = False,
) -> CatalogBackup:
    """Restore a catalog export into the catalog (by default: refuse a non-empty catalog).

    Parameters
    ----------
    source:
        a local path or ``s3://bucket/key.json`` written by :func:`export_catalog`.
    replace:
        drop every table of the target database first, so the result is exactly the file.
    """
    catalog = _catalog(catalog, settings)
    parts = parse_document(_read(str(source)))
    restored: list[tuple[Table, list[Partition], list[SchemaVersion]]] = []
    try:
        for entry, partitions, history in parts:
            table = table_from_json(catalog.database, entry)
            restored.append(
                (
                    table,
                    [table.partition(p["values"], p["location"]) for p in partitions],
                    history,
                )
            )
    except (KeyError, TypeError, LakeError) as exc:
        raise CatalogError(f"malformed catalog export {source}: {exc}") from exc
    present = catalog.list_tables()
    if present and not replace:
        raise CatalogError(
            f"catalog {catalog.database} already has {len(present)} table(s); import into an "
            "empty catalog or pass --replace"
        )
    for table in present:
        catalog.delete_table(table.name)
    for table, members, versions in restored:
        catalog.restore_table(table, members, versions)
    return CatalogBackup(
        str(source), catalog.database, len(restored), sum(len(p) for _t, p, _h in restored)
    )
