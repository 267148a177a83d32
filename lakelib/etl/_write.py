"""The stage's edge: reading lake folders into Spark, writing partitions, the catalog.

Writes are Parquet (snappy), one file per partition per write, through Spark's dynamic
partition overwrite: a run replaces exactly the partitions it writes, and each partition
folder is swapped in when the job commits, so readers see the old partition or the new one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from lakelib.catalog import Catalog, Column, Table, open_catalog
from lakelib.config import Settings, Zone
from lakelib.storage import Store, parse_partition_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

MAX_RECORDS_PER_FILE = 5_000_000


def spark_path(store: Store, key: str) -> str:
    """The URI Spark reads ``key`` of ``store`` at (``s3://`` stays; Glue and EMR read it)."""
    return store.url(key)


def existing_partitions(store: Store, table: str, depth: int = 3) -> dict[str, int]:
    """``{"year=2026/month=01/day=05": files}`` for the data files under ``<table>/``."""
    found: dict[str, int] = {}
    for info in store.list(f"{table}/"):
        rest = info.key[len(table) + 1 :]
        parts = rest.split("/")
        if len(parts) != depth + 1 or any(p.startswith(("_", ".")) for p in parts):
            continue
        if not parts[-1].endswith(".parquet"):
            continue
        spec = "/".join(parts[:-1])
        found[spec] = found.get(spec, 0) + 1
    return found


def read_partitions(
    spark: SparkSession,
    store: Store,
    table: str,
    specs: Iterable[str],
    schema: StructType,
) -> DataFrame | None:
    """The rows of the given partitions of ``table`` (``None`` when none exists yet)."""
    have = existing_partitions(store, table)
    paths = [spark_path(store, f"{table}/{spec}") for spec in sorted(set(specs)) if spec in have]
    if not paths:
        return None
    return spark.read.schema(schema).option("basePath", spark_path(store, table)).parquet(*paths)


def write_partitioned(
    frame: DataFrame,
    store: Store,
    table: str,
    keys: Sequence[str],
    *,
    sort_by: Sequence[str] = (),
) -> None:
    """Replace the partitions of ``table`` that ``frame`` holds rows for (dynamic overwrite).

    Rows are clustered by partition first, so each partition gets one file (more only past
    ``MAX_RECORDS_PER_FILE``), sorted by ``sort_by`` inside it: the same rows always give
    the same file content.
    """
    (
        frame.repartition(*keys)
        .sortWithinPartitions(*keys, *sort_by)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("maxRecordsPerFile", MAX_RECORDS_PER_FILE)
        .option("compression", "snappy")
        .partitionBy(*keys)
        .parquet(spark_path(store, table))
    )


def write_whole(frame: DataFrame, store: Store, table: str) -> None:
    """Replace an unpartitioned table with ``frame`` as one snappy Parquet file."""
    (
        frame.coalesce(1)
        .write.mode("overwrite")
        .option("compression", "snappy")
        .parquet(spark_path(store, table))
    )


def delete_partitions(store: Store, table: str, specs: Iterable[str]) -> list[str]:
    """Remove partition folders (a full rebuild's stale ones); returns the specs removed."""
    removed = []
    for spec in sorted(specs):
        store.delete_prefix(f"{table}/{spec}")
        removed.append(spec)
    return removed


def count_files(store: Store, table: str, specs: Iterable[str] | None = None) -> int:
    have = existing_partitions(store, table)
    if specs is None:
        return sum(have.values())
    return sum(have.get(spec, 0) for spec in set(specs))


def register_table(
    frame_schema: StructType,
    *,
    table: str,
    zone: Zone,
    folder: str,
    keys: Sequence[str],
    settings: Settings,
    partitions: Iterable[str] = (),
    removed: Iterable[str] = (),
    description: str = "",
    parameters: Mapping[str, str] | None = None,
    catalog: Catalog | None = None,
) -> Table:
    """Create or update ``table`` in the catalog and register / drop partitions by spec."""
    catalog = catalog or open_catalog(settings)
    store = settings.store(zone)
    columns = tuple(
        Column(field.name.lower(), field.dataType.simpleString())
        for field in frame_schema.fields
        if field.name not in keys
    )
    existing = catalog.find_table(table)
    stored = Table(
        database=settings.database,
        name=table,
        columns=columns,
        partition_keys=tuple(keys),
        location=store.url(folder),
        classification="parquet",
        compression="snappy",
        parameters={
            **(dict(existing.parameters) if existing else {}),
            "lakelib.zone": zone.value,
            **dict(parameters or {}),
        },
        description=description or (existing.description if existing else ""),
    )
    catalog.put_table(stored)
    if keys:
        values = [parse_partition_path(spec) for spec in partitions]
        if values:
            catalog.add_partitions(table, [stored.partition(v) for v in values])
        gone = [parse_partition_path(spec) for spec in removed]
        if gone:
            catalog.delete_partitions(table, gone)
    return stored
