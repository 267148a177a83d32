"""The catalog on the AWS Glue Data Catalog, through boto3 (``lakelib.aws.client``).

Tables are written the way Athena needs to read them: ``EXTERNAL_TABLE``, the format's
InputFormat / OutputFormat / SerDe, ``Parameters.classification`` and ``compressionType``.
Every partition carries the table's columns in its storage descriptor; when the table's
schema changes, the partitions are rewritten with it (Athena otherwise fails with
``HIVE_PARTITION_SCHEMA_MISMATCH``).

The schema history lives in Glue's own table versions: each version carries the
``lakelib.schema_version``, ``lakelib.schema_changed_at`` and ``lakelib.schema_changes``
parameters, so the console's "table versions" view and :meth:`schema_history` agree.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from lakelib._stamps import utc_now
from lakelib.catalog._base import partition_values
from lakelib.catalog._model import (
    Column,
    ConcurrentUpdateError,
    Partition,
    PartitionFilter,
    SchemaVersion,
    Table,
    TableChange,
    TableNotFoundError,
    diff_tables,
    match_partition,
    sort_partitions,
)
from lakelib.errors import CatalogError
from lakelib.storage import validate_name

log = logging.getLogger(__name__)

# Glue's per-call limits (the service model's ``max``; botocore and moto do not enforce them,
# real Glue answers ValidationException): create/update take 100 entries, delete only 25.
BATCH = 100
DELETE_BATCH = 25

_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
_LAZY_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
_OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
_PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
_PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
_PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

# Parameters the model holds in its own fields; never copied into Table.parameters.
_VERSION = "lakelib.schema_version"
_CHANGED_AT = "lakelib.schema_changed_at"
_CHANGES = "lakelib.schema_changes"
_RESERVED = {"classification", "compressionType", "EXTERNAL", _VERSION, _CHANGED_AT, _CHANGES}


def storage_descriptor(table: Table, location: str | None = None) -> dict[str, Any]:
    """The Glue ``StorageDescriptor`` Athena needs to read the table's files."""
    columns = []
    for col in table.columns:
        entry = {"Name": col.name, "Type": col.type}
        if col.comment:
            entry["Comment"] = col.comment
        columns.append(entry)
    params = table.parameters
    if table.classification == "json":
        formats = (_TEXT_INPUT, _TEXT_OUTPUT)
        serde = {
            "SerializationLibrary": _JSON_SERDE,
            "Parameters": {"paths": ",".join(c.name for c in table.columns)},
        }
    elif table.classification == "csv":
        formats = (_TEXT_INPUT, _TEXT_OUTPUT)
        delimiter = params.get("delimiter", ",")
        if params.get("quoteChar"):
            # Quoted fields need OpenCSVSerde; LazySimpleSerDe would keep the quotes.
            serde = {
                "SerializationLibrary": _OPEN_CSV_SERDE,
                "Parameters": {"separatorChar": delimiter, "quoteChar": params["quoteChar"]},
            }
        else:
            serde = {
                "SerializationLibrary": _LAZY_SERDE,
                "Parameters": {"field.delim": delimiter, "serialization.format": delimiter},
            }
    else:
        formats = (_PARQUET_INPUT, _PARQUET_OUTPUT)
        serde = {
            "SerializationLibrary": _PARQUET_SERDE,
            "Parameters": {"serialization.format": "1"},
        }
    return {
        "Columns": columns,
        "Location": table.location if location is None else location,
        "InputFormat": formats[0],
        "OutputFormat": formats[1],
        "Compressed": table.compression != "none",
        "SerdeInfo": serde,
        "Parameters": {"classification": table.classification},
        "StoredAsSubDirectories": False,
    }


def table_input(
    table: Table, version: int, changed_at: str, changes: Sequence[str]
) -> dict[str, Any]:
    """Glue ``TableInput`` for a table at one schema version."""
    params = dict(table.parameters)
    params.update(
        {
            "classification": table.classification,
            "compressionType": table.compression,
            "EXTERNAL": "TRUE",
            _VERSION: str(version),
            _CHANGED_AT: changed_at,
            _CHANGES: json.dumps(list(changes)),
        }
    )
    data: dict[str, Any] = {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": params,
        "StorageDescriptor": storage_descriptor(table),
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in table.partition_keys],
    }
    if table.description:
        data["Description"] = table.description
    return data


def _columns(descriptor: Mapping[str, Any]) -> tuple[Column, ...]:
    return tuple(
        Column(c["Name"], c["Type"], c.get("Comment", "")) for c in descriptor.get("Columns", [])
    )


def _table_from_glue(database: str, data: Mapping[str, Any]) -> Table:
    params = dict(data.get("Parameters", {}))
    descriptor = data.get("StorageDescriptor", {})
    try:
        return Table(
            database=database,
            name=data["Name"],
            columns=_columns(descriptor),
            partition_keys=tuple(k["Name"] for k in data.get("PartitionKeys", [])),
            location=descriptor.get("Location", ""),
            classification=params.get("classification", "parquet"),
            compression=params.get("compressionType", "none"),
            parameters={k: v for k, v in params.items() if k not in _RESERVED},
            description=data.get("Description", ""),
            version=int(params.get(_VERSION, "1")),
        )
    except (KeyError, ValueError) as exc:
        raise CatalogError(f"Glue table {database}.{data.get('Name')} is malformed: {exc}") from exc


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _filter_expression(where: PartitionFilter) -> str | None:
    """A Glue ``Expression`` for a dict filter (server-side); predicates filter client-side."""
    if where is None or callable(where):
        return None
    terms = []
    for key, wanted in where.items():
        validate_name(key, "partition key")
        if isinstance(wanted, str):
            terms.append(f"{key} = '{wanted.replace(chr(39), chr(39) * 2)}'")
        else:
            quoted = ", ".join(f"'{str(w).replace(chr(39), chr(39) * 2)}'" for w in wanted)
            terms.append(f"{key} IN ({quoted})" if quoted else "1 = 0")
    return " AND ".join(terms) or None


class GlueCatalog:
    """The catalog in AWS Glue: one Glue database.

    Parameters
    ----------
    database:
        Glue database name (``settings.database``, ``data_lake_db`` by default); created on
        the first write if missing.
    region:
        AWS region; boto3's default when omitted.
    client:
        a boto3 Glue client to use instead of ``lakelib.aws.client("glue")``.
    """

    def __init__(self, database: str, *, region: str | None = None, client: Any = None) -> None:
        self._database = validate_name(database, "database")
        self.region = region
        self._client = client
        self._database_ready = False

    def __repr__(self) -> str:
        return f"GlueCatalog(database={self._database!r}, region={self.region!r})"

    @property
    def database(self) -> str:
        return self._database

    @property
    def client(self) -> Any:
        if self._client is None:
            from lakelib.aws import client

            self._client = client("glue", region=self.region)
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", str(exc))
            if code == "EntityNotFoundException":
                raise TableNotFoundError(f"Glue {operation}: {message}") from exc
            if code == "ConcurrentModificationException" or (
                code == "AlreadyExistsException" and operation == "create_table"
            ):
                raise ConcurrentUpdateError(f"Glue {operation}: {message}") from exc
            raise CatalogError(f"Glue {operation} failed: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise CatalogError(f"Glue {operation} failed: {exc}") from exc

    def _ensure_database(self) -> None:
        if self._database_ready:
            return
        from botocore.exceptions import ClientError

        try:
            self.client.get_database(Name=self._database)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise CatalogError(f"Glue get_database failed: {exc}") from exc
            try:
                self.client.create_database(DatabaseInput={"Name": self._database})
            except ClientError as create_exc:
                code = create_exc.response.get("Error", {}).get("Code")
                if code != "AlreadyExistsException":
                    raise CatalogError(f"cannot create Glue database: {create_exc}") from create_exc
        self._database_ready = True

    def _glue_table(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self.client.get_table(DatabaseName=self._database, Name=name)["Table"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return None
            raise CatalogError(f"Glue get_table {name} failed: {exc}") from exc

    # -- tables ----------------------------------------------------------------------------

    def find_table(self, name: str) -> Table | None:
        data = self._glue_table(name)
        return None if data is None else _table_from_glue(self._database, data)

    def get_table(self, name: str) -> Table:
        table = self.find_table(name)
        if table is None:
            raise TableNotFoundError(f"no table {self._database}.{name} in Glue")
        return table

    def list_tables(self) -> list[Table]:
        from botocore.exceptions import ClientError

        tables = []
        try:
            for page in self.client.get_paginator("get_tables").paginate(
                DatabaseName=self._database
            ):
                tables += [_table_from_glue(self._database, t) for t in page["TableList"]]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return []  # no database yet: nothing crawled
            raise CatalogError(f"Glue get_tables failed: {exc}") from exc
        return sorted(tables, key=lambda t: t.name)

    def put_table(self, table: Table, *, expected_version: int | None = None) -> TableChange:
        self._own(table)
        self._ensure_database()
        data = self._glue_table(table.name)
        old = None if data is None else _table_from_glue(self._database, data)
        stored = old.version if old else 0
        if expected_version is not None and expected_version != stored:
            raise ConcurrentUpdateError(
                f"table {table.name} is at schema version {stored}, expected {expected_version}"
            )
        change = diff_tables(old, table)
        if change.action == "unchanged":
            return change
        if change.version != stored or data is None:
            changed_at, changes = utc_now(), change.lines()
        else:
            params = data.get("Parameters", {})
            changed_at = params.get(_CHANGED_AT, "")
            changes = json.loads(params.get(_CHANGES, "[]"))
        body = table_input(table, change.version, changed_at, changes)
        if data is None:
            self._call("create_table", DatabaseName=self._database, TableInput=body)
        else:
            # VersionId makes Glue refuse the write if someone updated the table meanwhile.
            self._call(
                "update_table",
                DatabaseName=self._database,
                TableInput=body,
                VersionId=str(data["VersionId"]),
            )
            if old is not None and old.partition_keys != table.partition_keys:
                self.delete_partitions(table.name, self.list_partitions(table.name))
            elif change.version != stored:
                self._repair_partitions(table)
        log.info("%s: %s (schema version %d)", table.name, change.action, change.version)
        return change

    def _repair_partitions(self, table: Table) -> None:
        """Rewrite every partition's storage descriptor with the table's new columns."""
        partitions = self.list_partitions(table.name)
        for chunk in _chunks(partitions):
            entries = [
                {
                    "PartitionValueList": list(p.values.values()),
                    "PartitionInput": self._partition_input(table, p),
                }
                for p in chunk
            ]
            result = self._call(
                "batch_update_partition",
                DatabaseName=self._database,
                TableName=table.name,
                Entries=entries,
            )
            for error in result.get("Errors", []):
                log.warning("%s: partition not repaired: %s", table.name, error)

    def delete_table(self, name: str) -> None:
        self._call("delete_table", DatabaseName=self._database, Name=name)

    def schema_history(self, table: str) -> list[SchemaVersion]:
        from botocore.exceptions import BotoCoreError, ClientError

        versions = []
        try:
            for page in self.client.get_paginator("get_table_versions").paginate(
                DatabaseName=self._database, TableName=table
            ):
                versions += page["TableVersions"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                raise TableNotFoundError(f"no table {self._database}.{table} in Glue") from exc
            raise CatalogError(f"Glue get_table_versions {table} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise CatalogError(f"Glue get_table_versions {table} failed: {exc}") from exc
        if not versions:
            self.get_table(table)
        versions.sort(key=lambda v: int(v.get("VersionId", "0")))
        history: dict[int, SchemaVersion] = {}
        for entry in versions:
            data = entry["Table"]
            params = data.get("Parameters", {})
            number = int(params.get(_VERSION, "1"))
            if number in history:
                continue  # a parameter-only update: same schema version
            history[number] = SchemaVersion(
                version=number,
                columns=_columns(data.get("StorageDescriptor", {})),
                partition_keys=tuple(k["Name"] for k in data.get("PartitionKeys", [])),
                changed_at=params.get(_CHANGED_AT, ""),
                changes=tuple(json.loads(params.get(_CHANGES, "[]"))),
            )
        return [history[n] for n in sorted(history)]

    # -- partitions ------------------------------------------------------------------------

    def _partition_input(self, table: Table, partition: Partition) -> dict[str, Any]:
        own = table.partition(partition.values, partition.location)
        return {
            "Values": list(own.values.values()),
            "StorageDescriptor": storage_descriptor(table, own.location),
        }

    def list_partitions(self, table: str, filter: PartitionFilter = None) -> list[Partition]:
        stored = self.get_table(table)
        kwargs: dict[str, Any] = {"DatabaseName": self._database, "TableName": table}
        expression = _filter_expression(filter)
        if expression:
            kwargs["Expression"] = expression
        found = []
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self.client.get_paginator("get_partitions").paginate(**kwargs):
                for item in page["Partitions"]:
                    values = dict(zip(stored.partition_keys, item["Values"], strict=True))
                    location = item.get("StorageDescriptor", {}).get("Location", "")
                    found.append(Partition(values, location))
        except (ClientError, BotoCoreError) as exc:
            raise CatalogError(f"Glue get_partitions {table} failed: {exc}") from exc
        return sort_partitions(p for p in found if match_partition(p.values, filter))

    def add_partitions(self, table: str, partitions: Iterable[Partition]) -> int:
        stored = self.get_table(table)
        existing = {p.spec: p for p in self.list_partitions(table)}
        new, moved = [], []
        for partition in partitions:
            own = stored.partition(partition.values, partition.location)
            have = existing.get(own.spec)
            if have is None:
                new.append(own)
                existing[own.spec] = own
            elif have.location != own.location:
                moved.append(own)
        for chunk in _chunks(new):
            result = self._call(
                "batch_create_partition",
                DatabaseName=self._database,
                TableName=table,
                PartitionInputList=[self._partition_input(stored, p) for p in chunk],
            )
            errors = [
                e
                for e in result.get("Errors", [])
                if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
            ]
            if errors:
                raise CatalogError(f"Glue batch_create_partition {table}: {errors[0]}")
        for chunk in _chunks(moved):
            self._call(
                "batch_update_partition",
                DatabaseName=self._database,
                TableName=table,
                Entries=[
                    {
                        "PartitionValueList": list(p.values.values()),
                        "PartitionInput": self._partition_input(stored, p),
                    }
                    for p in chunk
                ],
            )
        return len(new) + len(moved)

    def delete_partitions(self, table: str, values: Iterable[Mapping[str, str] | Partition]) -> int:
        stored = self.get_table(table)
        existing = {p.spec for p in self.list_partitions(table)}
        wanted = [stored.partition(partition_values(v)) for v in values]
        gone = [p for p in wanted if p.spec in existing]
        for chunk in _chunks(gone, DELETE_BATCH):
            result = self._call(
                "batch_delete_partition",
                DatabaseName=self._database,
                TableName=table,
                PartitionsToDelete=[{"Values": list(p.values.values())} for p in chunk],
            )
            # A partition another writer removed meanwhile is gone either way.
            errors = [
                e
                for e in result.get("Errors", [])
                if e.get("ErrorDetail", {}).get("ErrorCode") != "EntityNotFoundException"
            ]
            if errors:
                raise CatalogError(f"Glue batch_delete_partition {table}: {errors[0]}")
        return len(gone)

    # -- restore ---------------------------------------------------------------------------

    def restore_table(
        self, table: Table, partitions: Sequence[Partition], history: Sequence[SchemaVersion]
    ) -> None:
        from dataclasses import replace

        self._own(table)
        self._ensure_database()
        if self._glue_table(table.name) is not None:
            self.delete_table(table.name)
        # Replay the history as Glue table versions, then the final state.
        steps = [
            (replace(table, columns=e.columns, partition_keys=e.partition_keys), e) for e in history
        ]
        created = False
        for state, entry in steps:
            body = table_input(state, entry.version, entry.changed_at, entry.changes)
            operation = "update_table" if created else "create_table"
            self._call(operation, DatabaseName=self._database, TableInput=body)
            created = True
        last = history[-1] if history else None
        body = table_input(
            table,
            table.version,
            last.changed_at if last else utc_now(),
            last.changes if last else ("created",),
        )
        self._call(
            "update_table" if created else "create_table",
            DatabaseName=self._database,
            TableInput=body,
        )
        self.add_partitions(table.name, partitions)

    def _own(self, table: Table) -> None:
        if table.database != self._database:
            raise CatalogError(
                f"table {table.database}.{table.name} does not belong to database {self._database}"
            )
