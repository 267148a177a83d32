"""The catalog's model, shaped like the Glue Data Catalog; both backends store exactly this."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from lakelib.catalog._types import normalize
from lakelib.errors import CatalogError
from lakelib.storage import partition_path, validate_name

CLASSIFICATIONS = ("json", "csv", "parquet")
COMPRESSIONS = ("none", "gzip", "snappy", "zstd", "lz4", "brotli")

# A partition filter: exact values ({"year": "2024"}), a set of allowed values per key
# ({"month": ["01", "02"]}), or any predicate over the partition's values.
PartitionFilter: TypeAlias = (
    Mapping[str, str | Sequence[str]] | Callable[[Mapping[str, str]], bool] | None
)


class TableNotFoundError(CatalogError):
    """The table is not in the catalog."""


class ConcurrentUpdateError(CatalogError):
    """Someone else changed the table's schema between our read and our write."""


@dataclass(frozen=True)
class Column:
    """A column: name (lower case, as Glue stores it), Glue/Hive type string, comment."""

    name: str
    type: str
    comment: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower():
            raise CatalogError(f"column name must be non-empty lower case: {self.name!r}")
        object.__setattr__(self, "type", normalize(self.type))


@dataclass(frozen=True)
class Partition:
    """One partition: its values keyed by partition key (all strings) and its folder."""

    values: Mapping[str, str]
    location: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", {str(k): str(v) for k, v in self.values.items()})

    @property
    def spec(self) -> str:
        """``year=2024/month=01/day=05``: the partition's folder path, its identity."""
        return partition_path(self.values)


@dataclass(frozen=True)
class Table:
    """A table in the catalog.

    Parameters
    ----------
    database, name:
        where it is registered; ``name`` passes :func:`~lakelib.storage.validate_name`.
    columns:
        data columns in order (partition keys excluded).
    partition_keys:
        partition key names in folder order; their type is always ``string``, as Glue does.
    location:
        the table's folder (a local path or ``s3://...``).
    classification:
        ``json``, ``csv`` or ``parquet``.
    compression:
        ``none``, ``gzip``, ``snappy``...
    parameters:
        extra table parameters (``skip.header.line.count``, ``delimiter``, ``lakelib.zone``).
    version:
        the schema version the catalog holds (0 for a table not stored yet); set by the
        catalog, ignored when comparing tables.
    """

    database: str
    name: str
    columns: tuple[Column, ...]
    partition_keys: tuple[str, ...] = ()
    location: str = ""
    classification: str = "parquet"
    compression: str = "none"
    parameters: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        validate_name(self.name, "table")
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "partition_keys", tuple(self.partition_keys))
        object.__setattr__(self, "parameters", {str(k): str(v) for k, v in self.parameters.items()})
        if self.classification not in CLASSIFICATIONS:
            raise CatalogError(
                f"table {self.name}: classification must be one of {', '.join(CLASSIFICATIONS)}, "
                f"not {self.classification!r}"
            )
        names = [c.name for c in self.columns] + list(self.partition_keys)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise CatalogError(f"table {self.name}: duplicate columns {', '.join(duplicates)}")
        for key in self.partition_keys:
            validate_name(key, "partition key")

    @property
    def partition_columns(self) -> tuple[Column, ...]:
        """Partition keys as columns, typed ``string`` as Glue types them."""
        return tuple(Column(key, "string") for key in self.partition_keys)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise CatalogError(f"table {self.name} has no column {name!r}")

    def partition(self, values: Mapping[str, str], location: str | None = None) -> Partition:
        """A partition of this table; the location defaults to ``<location>/<k=v/...>``."""
        ordered = {key: str(values[key]) for key in self.partition_keys if key in values}
        if len(ordered) != len(self.partition_keys) or len(values) != len(ordered):
            raise CatalogError(
                f"table {self.name} is partitioned by {', '.join(self.partition_keys) or 'nothing'}"
                f", got values for {', '.join(values) or 'nothing'}"
            )
        if location is None:
            location = f"{self.location.rstrip('/')}/{partition_path(ordered)}"
        return Partition(ordered, location)

    def with_version(self, version: int) -> Table:
        return replace(self, version=version)


@dataclass(frozen=True)
class SchemaVersion:
    """One entry of a table's schema history: the schema and what changed from the last."""

    version: int
    columns: tuple[Column, ...]
    partition_keys: tuple[str, ...]
    changed_at: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class TableChange:
    """What :meth:`Catalog.put_table` did."""

    table: str
    action: Literal["created", "updated", "unchanged"]
    version: int
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    types_changed: tuple[tuple[str, str, str], ...] = ()
    other_changes: tuple[str, ...] = ()

    @property
    def schema_changed(self) -> bool:
        return bool(
            self.action == "created"
            or self.columns_added
            or self.columns_removed
            or self.types_changed
            or any(c.startswith("partition keys") for c in self.other_changes)
        )

    def lines(self) -> list[str]:
        """The change as one human line per item (what the schema history records)."""
        if self.action == "created":
            return ["created"]
        out = [f"added column {name}" for name in self.columns_added]
        out += [f"column {name}: {old} -> {new}" for name, old, new in self.types_changed]
        out += [f"removed column {name}" for name in self.columns_removed]
        out += list(self.other_changes)
        return out


def diff_tables(old: Table | None, new: Table) -> TableChange:
    """Compare what is stored with what is about to be stored."""
    if old is None:
        return TableChange(new.name, "created", 1, columns_added=tuple(c.name for c in new.columns))
    before = {c.name: c for c in old.columns}
    after = {c.name: c for c in new.columns}
    added = tuple(n for n in after if n not in before)
    removed = tuple(n for n in before if n not in after)
    changed = tuple(
        (n, before[n].type, after[n].type)
        for n in after
        if n in before and before[n].type != after[n].type
    )
    other = []
    if old.partition_keys != new.partition_keys:
        other.append(
            f"partition keys {','.join(old.partition_keys) or '-'} -> "
            f"{','.join(new.partition_keys) or '-'}"
        )
    if not added and not removed and not changed and [c.name for c in old.columns] != list(after):
        other.append("column order")
    for attr in ("location", "classification", "compression", "description"):
        if getattr(old, attr) != getattr(new, attr):
            other.append(f"{attr}: {getattr(old, attr)} -> {getattr(new, attr)}")
    comments = [n for n in after if n in before and before[n].comment != after[n].comment]
    other += [f"comment of {n}" for n in comments]
    for key in sorted(set(old.parameters) | set(new.parameters)):
        if old.parameters.get(key) != new.parameters.get(key):
            other.append(f"parameter {key}: {old.parameters.get(key)} -> {new.parameters.get(key)}")
    schema_changed = bool(added or removed or changed or "column order" in other) or (
        old.partition_keys != new.partition_keys
    )
    action: Literal["updated", "unchanged"] = (
        "updated" if (schema_changed or other) else "unchanged"
    )
    version = old.version + 1 if schema_changed else old.version
    return TableChange(new.name, action, version, added, removed, changed, tuple(other))


def match_partition(values: Mapping[str, str], where: PartitionFilter) -> bool:
    """Whether a partition's values pass a :data:`PartitionFilter`."""
    if where is None:
        return True
    if callable(where):
        return bool(where(values))
    for key, wanted in where.items():
        have = values.get(key)
        if isinstance(wanted, str):
            if have != wanted:
                return False
        elif have not in {str(w) for w in wanted}:
            return False
    return True


def sort_partitions(partitions: Iterable[Partition]) -> list[Partition]:
    return sorted(partitions, key=lambda p: tuple(p.values.values()))


# -- JSON shapes shared by the SQLite backend and export files ---------------------------


def columns_to_json(columns: Iterable[Column]) -> list[dict[str, str]]:
    return [{"name": c.name, "type": c.type, "comment": c.comment} for c in columns]


def columns_from_json(data: Iterable[Mapping[str, Any]]) -> tuple[Column, ...]:
    return tuple(Column(d["name"], d["type"], d.get("comment", "")) for d in data)


def table_to_json(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "columns": columns_to_json(table.columns),
        "partition_keys": list(table.partition_keys),
        "location": table.location,
        "classification": table.classification,
        "compression": table.compression,
        "parameters": dict(sorted(table.parameters.items())),
        "description": table.description,
        "version": table.version,
    }


def table_from_json(database: str, data: Mapping[str, Any]) -> Table:
    try:
        return Table(
            database=database,
            name=data["name"],
            columns=columns_from_json(data["columns"]),
            partition_keys=tuple(data.get("partition_keys", ())),
            location=data.get("location", ""),
            classification=data.get("classification", "parquet"),
            compression=data.get("compression", "none"),
            parameters=data.get("parameters", {}),
            description=data.get("description", ""),
            version=int(data.get("version", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"malformed table entry {data.get('name', '?')!r}: {exc}") from exc


def history_to_json(entry: SchemaVersion) -> dict[str, Any]:
    return {
        "version": entry.version,
        "columns": columns_to_json(entry.columns),
        "partition_keys": list(entry.partition_keys),
        "changed_at": entry.changed_at,
        "changes": list(entry.changes),
    }


def history_from_json(data: Mapping[str, Any]) -> SchemaVersion:
    return SchemaVersion(
        version=int(data["version"]),
        columns=columns_from_json(data["columns"]),
        partition_keys=tuple(data.get("partition_keys", ())),
        changed_at=str(data["changed_at"]),
        changes=tuple(data.get("changes", ())),
    )
