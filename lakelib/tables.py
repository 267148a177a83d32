"""Tables as DataFrames: publish a pandas DataFrame as a cataloged table, read one back.

The notebook user's one-call door to the lake, shaped like awswrangler's
``wr.s3.to_parquet(df, dataset=True, ...)`` and ``wr.athena.read_sql_query``. The same
calls work on both profiles: the local lake (zone folders, SQLite catalog, DuckDB engine)
and AWS (S3 zone buckets, Glue Data Catalog, Athena).

>>> import lakelib as lk
>>> lk.write_table(features, "features_rfm", partition_cols=["as_of"])   # doctest: +SKIP
WriteResult(table='features_rfm', rows=1200, files=1, ...)
>>> lk.read_table("features_rfm", columns=["customer_id", "recency"],
...               partitions={"as_of": "2026-01-31"})                    # doctest: +SKIP
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import CatalogError, ValidationError
from lakelib.storage import Store, parse_partition_path, partition_path, validate_name

if TYPE_CHECKING:
    import pandas as pd

    from lakelib.catalog import Catalog, Table

__all__ = ["WRITABLE_ZONES", "WRITE_MODES", "WriteResult", "read_sql", "read_table", "write_table"]

log = logging.getLogger(__name__)

WriteMode = Literal["append", "overwrite", "overwrite_partitions"]
WRITE_MODES: tuple[str, ...] = ("append", "overwrite", "overwrite_partitions")
# Raw and quarantine hold landed records with their envelope; tables published from a
# notebook are derived data, so they go where derived data lives.
WRITABLE_ZONES: tuple[str, ...] = (Zone.PROCESSED.value, Zone.CURATED.value)
# The file an overwrite writes in each partition: replacing it is one atomic write
# (rename locally, one PUT on S3), so a reader sees the old partition or the new one.
_OVERWRITE_FILE = "part-00000.parquet"


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_table` did.

    Attributes
    ----------
    table, zone, location:
        the catalog table, its zone and folder (a path or ``s3://`` URI).
    rows, files:
        rows written and Parquet files written.
    partitions:
        partition specs written (``as_of=2026-01-31``); empty for an unpartitioned table.
    removed_partitions:
        partitions a ``mode="overwrite"`` dropped because the DataFrame had no rows for them.
    """

    table: str
    zone: str
    location: str
    mode: str
    rows: int
    files: int
    partitions: tuple[str, ...] = ()
    removed_partitions: tuple[str, ...] = field(default=())


def write_table(
    df: pd.DataFrame,
    table: str,
    *,
    partition_cols: Sequence[str] = (),
    mode: WriteMode = "append",
    zone: str = "curated",
    description: str = "",
    settings: Settings | None = None,
) -> WriteResult:
    """Write ``df`` as a Parquet table in ``zone`` and register it in the catalog.

    Parameters
    ----------
    df:
        the rows; column names become lower case (the catalog stores them so).
    table:
        table name (``[a-z0-9_]+``); it is also the folder under the zone.
    partition_cols:
        columns to partition by, in folder order (``as_of=2026-01-31/``); their values
        become text, as Hive and Glue store partition values.
    mode:
        ``append`` adds files next to what is there (the schema must match the catalog's);
        ``overwrite_partitions`` replaces the partitions ``df`` has rows for and keeps the
        others; ``overwrite`` replaces the whole table, schema included, and drops the
        partitions ``df`` has no rows for.
    zone:
        ``curated`` (default) or ``processed``.
    description:
        the table's description in the catalog.
    settings:
        explicit settings (default: the current profile's).

    Returns
    -------
    WriteResult

    Raises
    ------
    ValidationError
        a bad name, mode, zone, partition column or value, or an empty DataFrame.
    CatalogError
        appending with another schema or other partition keys than the catalog's.

    Notes
    -----
    Each partition an overwrite writes is one file replaced in one atomic step; files an
    earlier ``append`` added to that partition are removed right after, so a reader in
    that moment may see them once more. Appended files are never overwritten.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakelib.catalog import Column, Table, open_catalog
    from lakelib.catalog._types import of_arrow, render

    settings = settings or get_settings()
    validate_name(table, "table")
    if mode not in WRITE_MODES:
        raise ValidationError(f"mode must be one of {', '.join(WRITE_MODES)}, not {mode!r}")
    if zone not in WRITABLE_ZONES:
        raise ValidationError(f"zone must be one of {', '.join(WRITABLE_ZONES)}, not {zone!r}")
    frame = df.rename(columns=lambda c: str(c).lower())
    keys = tuple(str(c).lower() for c in partition_cols)
    for key in keys:
        validate_name(key, "partition column")
        if key not in frame.columns:
            raise ValidationError(f"partition column {key!r} is not a column of the DataFrame")
    if frame.empty:
        raise ValidationError(f"nothing to write to {table}: the DataFrame has no rows")
    if keys and len(keys) == len(frame.columns):
        raise ValidationError("every column is a partition column: no data columns are left")

    data_columns = [c for c in frame.columns if c not in keys]
    arrow = pa.Table.from_pandas(frame[data_columns], preserve_index=False)
    columns = []
    for arrow_field in arrow.schema:
        hive = of_arrow(arrow_field.type)
        if hive is None:  # an all-null column: Parquet says nothing about its type
            raise ValidationError(
                f"column {arrow_field.name!r} is empty (all nulls): give it a dtype first, "
                "e.g. df[col].astype('string')"
            )
        columns.append(Column(arrow_field.name, render(hive)))

    store = settings.store(zone)
    catalog = open_catalog(settings)
    existing = catalog.find_table(table)
    if existing is not None and mode != "overwrite":
        _check_same_shape(existing, tuple(columns), keys)

    stored = Table(
        database=settings.database,
        name=table,
        columns=tuple(columns),
        partition_keys=keys,
        location=store.url(table),
        classification="parquet",
        compression="snappy",
        parameters={
            **(dict(existing.parameters) if existing else {}),
            "lakelib.zone": zone,
            "lakelib.written_by": "lakelib.write_table",
        },
        description=description or (existing.description if existing else ""),
    )

    groups = _partition_groups(frame, keys)
    written: list[str] = []
    files = 0
    for values, rows in groups:
        spec = partition_path(values) if keys else ""
        folder = f"{table}/{spec}" if spec else table
        buffer = io.BytesIO()
        part = pa.Table.from_pandas(rows[data_columns], schema=arrow.schema, preserve_index=False)
        pq.write_table(part, buffer, compression="snappy")
        if mode == "append":
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            store.create_bytes(
                f"{folder}/part-{stamp}-{uuid.uuid4().hex[:8]}.parquet", buffer.getvalue()
            )
        else:
            store.write_bytes(f"{folder}/{_OVERWRITE_FILE}", buffer.getvalue())
            _remove_other_files(store, folder, keep=_OVERWRITE_FILE)
        written.append(spec)
        files += 1

    removed: list[str] = []
    if mode == "overwrite":
        removed = _remove_partitions_not_written(store, table, keys, set(written))
    catalog.put_table(stored)
    if keys:
        catalog.add_partitions(table, [stored.partition(parse_partition_path(s)) for s in written])
        if removed:
            catalog.delete_partitions(table, [parse_partition_path(s) for s in removed])
    log.info("wrote %d rows of %s in %d file(s) to %s", len(frame), table, files, stored.location)
    return WriteResult(
        table=table,
        zone=zone,
        location=stored.location,
        mode=mode,
        rows=len(frame),
        files=files,
        partitions=tuple(s for s in written if s),
        removed_partitions=tuple(removed),
    )


def _check_same_shape(existing: Table, columns: tuple[Any, ...], keys: tuple[str, ...]) -> None:
    if existing.partition_keys != keys:
        raise CatalogError(
            f"table {existing.name} is partitioned by "
            f"{', '.join(existing.partition_keys) or 'nothing'}, not by "
            f"{', '.join(keys) or 'nothing'}; use mode='overwrite' to replace it"
        )
    have = [(c.name, c.type) for c in existing.columns]
    new = [(c.name, c.type) for c in columns]
    if have != new:
        theirs = ", ".join(f"{n} {t}" for n, t in have)
        ours = ", ".join(f"{n} {t}" for n, t in new)
        raise CatalogError(
            f"table {existing.name} has columns ({theirs}), the DataFrame has ({ours}); "
            "use mode='overwrite' to replace its schema"
        )


def _partition_groups(
    frame: pd.DataFrame, keys: tuple[str, ...]
) -> list[tuple[dict[str, str], pd.DataFrame]]:
    if not keys:
        return [({}, frame)]
    if frame[list(keys)].isna().any().any():
        raise ValidationError(f"partition columns {', '.join(keys)} must not hold nulls")
    text = frame[list(keys)].astype(str)
    groups = []
    for values, index in text.groupby(list(keys), sort=True).groups.items():
        row = values if isinstance(values, tuple) else (values,)
        groups.append((dict(zip(keys, (str(v) for v in row), strict=True)), frame.loc[index]))
    return groups


def _remove_other_files(store: Store, folder: str, *, keep: str) -> None:
    for info in list(store.list(f"{folder}/")):
        rest = info.key[len(folder) + 1 :]
        if "/" not in rest and rest != keep and rest.endswith(".parquet"):
            store.delete(info.key)


def _remove_partitions_not_written(
    store: Store, table: str, keys: tuple[str, ...], written: set[str]
) -> list[str]:
    """Delete the data files of ``table`` outside the partitions just written."""
    removed: set[str] = set()
    for info in list(store.list(f"{table}/")):
        rest = info.key[len(table) + 1 :]
        parts = rest.split("/")
        if not parts[-1].endswith(".parquet") or any(p.startswith(("_", ".")) for p in parts):
            continue
        spec = "/".join(parts[:-1])
        if spec in written:
            continue
        store.delete(info.key)
        if len(parts) == len(keys) + 1 and spec:
            removed.add(spec)
    return sorted(removed)


def read_table(
    table: str,
    *,
    columns: Sequence[str] | None = None,
    partitions: Mapping[str, str | Sequence[str]] | None = None,
    where: str | None = None,
    params: Sequence[Any] | None = None,
    limit: int | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The rows of a catalog table as a DataFrame, through the query engine.

    Parameters
    ----------
    table:
        a catalog table, e.g. ``sales_clean``.
    columns:
        columns to read (default: all); partition keys are columns too.
    partitions:
        partition values to keep, e.g. ``{"year": "2026", "month": ["01", "02"]}``; the
        engine reads only those folders.
    where:
        an extra Trino SQL condition, e.g. ``"amount > ?"`` with ``params=[100]``.
    params:
        values for the ``?`` placeholders of ``where``, bound by the engine.
    limit:
        at most this many rows.
    settings:
        explicit settings (default: the current profile's).

    Examples
    --------
    >>> read_table("sales_clean", columns=["customer_id", "amount"],
    ...            partitions={"year": "2026", "month": "01"},
    ...            where="amount > ?", params=[100])                    # doctest: +SKIP
    """
    validate_name(table, "table")
    selected = "*"
    if columns is not None:
        if not columns:
            raise ValidationError("columns is empty: name at least one, or pass None for all")
        selected = ", ".join(_quoted(validate_name(str(c).lower(), "column")) for c in columns)
    conditions: list[str] = []
    values: list[Any] = []
    for key, allowed in (partitions or {}).items():
        name = _quoted(validate_name(str(key).lower(), "partition key"))
        options = [allowed] if isinstance(allowed, str) else list(allowed)
        if not options:
            raise ValidationError(f"no values given for partition key {key!r}")
        conditions.append(f"{name} IN ({', '.join('?' for _ in options)})")
        values.extend(str(v) for v in options)
    if where:
        conditions.append(f"({where})")
        values.extend(params or [])
    elif params:
        raise ValidationError("params given without a where condition to bind them to")
    sql = f"SELECT {selected} FROM {table}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return read_sql(sql, params=values or None, settings=settings)


def read_sql(
    sql: str, *, params: Sequence[Any] | None = None, settings: Settings | None = None
) -> pd.DataFrame:
    """Run one Trino (Athena) SQL query on the lake and return its rows as a DataFrame.

    Locally DuckDB runs it (Trino semantics), on AWS Athena; see
    :func:`lakelib.query.run_query` for costs, workgroups and the query record.

    >>> read_sql("SELECT region, sum(amount) AS revenue "
    ...          "FROM sales_clean GROUP BY 1")                          # doctest: +SKIP
    """
    from lakelib.query import run_query

    return run_query(sql, params=params, settings=settings).df


def _quoted(name: str) -> str:
    return f'"{name}"'


def tables_frame(catalog: Catalog | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """The catalog's tables, one row each (what ``lakelib.catalog.tables()`` returns)."""
    import pandas as pd

    from lakelib.catalog import open_catalog

    catalog = catalog or open_catalog(settings)
    rows = []
    for t in catalog.list_tables():
        rows.append(
            {
                "table": t.name,
                "zone": t.parameters.get("lakelib.zone", ""),
                "format": t.classification,
                "compression": t.compression,
                "columns": len(t.columns),
                "partition_keys": ", ".join(t.partition_keys),
                "partitions": len(catalog.list_partitions(t.name)) if t.partition_keys else 0,
                "version": t.version,
                "location": t.location,
                "description": t.description,
            }
        )
    names = ["table", "zone", "format", "compression", "columns", "partition_keys"]
    names += ["partitions", "version", "location", "description"]
    return pd.DataFrame(rows, columns=names)
