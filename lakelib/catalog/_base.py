"""The small interface both catalog backends implement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from lakelib.catalog._model import (
    Partition,
    PartitionFilter,
    SchemaVersion,
    Table,
    TableChange,
)


@runtime_checkable
class Catalog(Protocol):
    """Tables and partitions of one database, shaped like the Glue Data Catalog.

    ``LocalCatalog`` (SQLite in the lake) and ``GlueCatalog`` (AWS Glue) both implement it
    and pass the same behavioural tests.
    """

    @property
    def database(self) -> str: ...

    def get_table(self, name: str) -> Table:
        """The table, or :class:`TableNotFoundError`."""
        ...

    def find_table(self, name: str) -> Table | None: ...

    def list_tables(self) -> list[Table]:
        """Every table of the database, sorted by name."""
        ...

    def put_table(self, table: Table, *, expected_version: int | None = None) -> TableChange:
        """Create or update a table; a schema change adds a schema-history entry.

        With ``expected_version`` (0: "must not exist yet"), the write fails with
        :class:`ConcurrentUpdateError` when the stored schema version is another one, so a
        read-merge-write never loses a column someone else just added.
        """
        ...

    def delete_table(self, name: str) -> None: ...

    def list_partitions(self, table: str, filter: PartitionFilter = None) -> list[Partition]:
        """Partitions sorted by their values; ``filter`` as in :func:`match_partition`."""
        ...

    def add_partitions(self, table: str, partitions: Iterable[Partition]) -> int:
        """Register partitions (new ones added, moved ones updated); returns how many changed."""
        ...

    def delete_partitions(
        self, table: str, values: Iterable[Mapping[str, str] | Partition]
    ) -> int: ...

    def schema_history(self, table: str) -> list[SchemaVersion]:
        """Schema versions of a table, oldest first."""
        ...

    def restore_table(
        self, table: Table, partitions: Sequence[Partition], history: Sequence[SchemaVersion]
    ) -> None:
        """Write a table exactly as exported (replacing any table of that name)."""
        ...


def partition_values(item: Mapping[str, str] | Partition) -> dict[str, str]:
    return dict(item.values) if isinstance(item, Partition) else dict(item)
