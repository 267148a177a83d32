"""The catalog on SQLite inside the lake: the embedded default's Glue Data Catalog.

One connection per operation, WAL journal, ``busy_timeout`` and ``BEGIN IMMEDIATE`` for every
write, so two processes crawling at once queue behind each other instead of corrupting the
file or losing each other's changes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lakelib._stamps import utc_now
from lakelib.catalog._base import partition_values
from lakelib.catalog._model import (
    ConcurrentUpdateError,
    Partition,
    PartitionFilter,
    SchemaVersion,
    Table,
    TableChange,
    TableNotFoundError,
    columns_from_json,
    columns_to_json,
    diff_tables,
    match_partition,
    sort_partitions,
)
from lakelib.errors import CatalogError
from lakelib.storage import validate_name

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# What to do about a damaged catalog file: it cannot be repaired in place (importing into it
# reads it first), but everything in it can be had again.
REPAIR = "move the file aside, then `lake catalog import` a backup or `lake crawl` to rebuild it"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS databases (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tables (
    database       TEXT NOT NULL REFERENCES databases(name) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    columns        TEXT NOT NULL,          -- JSON [{"name", "type", "comment"}]
    partition_keys TEXT NOT NULL,          -- JSON ["year", "month", "day"]
    location       TEXT NOT NULL,
    classification TEXT NOT NULL,
    compression    TEXT NOT NULL,
    parameters     TEXT NOT NULL,          -- JSON object, keys sorted
    description    TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (database, name)
);
CREATE TABLE IF NOT EXISTS partitions (
    database    TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    spec        TEXT NOT NULL,             -- year=2024/month=01/day=05
    "values"    TEXT NOT NULL,             -- JSON object in partition-key order
    location    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (database, table_name, spec),
    FOREIGN KEY (database, table_name) REFERENCES tables(database, name) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS schema_versions (
    database       TEXT NOT NULL,
    table_name     TEXT NOT NULL,
    version        INTEGER NOT NULL,
    columns        TEXT NOT NULL,
    partition_keys TEXT NOT NULL,
    changed_at     TEXT NOT NULL,
    changes        TEXT NOT NULL,          -- JSON list of one-line changes
    PRIMARY KEY (database, table_name, version),
    FOREIGN KEY (database, table_name) REFERENCES tables(database, name) ON DELETE CASCADE
);
"""

_TABLE_FIELDS = (
    "name, columns, partition_keys, location, classification, compression, parameters, "
    "description, schema_version"
)


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class LocalCatalog:
    """The catalog in a SQLite file (by default ``<lake>/catalog.sqlite``).

    Parameters
    ----------
    path:
        the SQLite file; its folder is created on first use.
    database:
        the database this object reads and writes (one file can hold several).
    timeout:
        seconds a writer waits for another writer's lock before failing.

    Examples
    --------
    >>> catalog = LocalCatalog(tmp / "catalog.sqlite")            # doctest: +SKIP
    >>> catalog.list_partitions("raw_sales", {"month": ["01", "02"]})  # doctest: +SKIP
    """

    def __init__(
        self, path: Path | str, database: str = "data_lake_db", *, timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        self._database = validate_name(database, "database")
        self.timeout = timeout
        self._ready = False

    def __repr__(self) -> str:
        return f"LocalCatalog({str(self.path)!r}, database={self._database!r})"

    @property
    def database(self) -> str:
        return self._database

    # -- connections -----------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not self._ready:
            self._create_schema(conn)
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        try:
            self._use_wal(conn)
            # executescript runs outside Python's transaction handling: BEGIN/COMMIT are ours.
            conn.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} INSERT OR IGNORE INTO meta VALUES "
                f"('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            raise CatalogError(f"{self.path} is not a usable catalog: {exc}; {REPAIR}") from exc
        if int(row[0]) > SCHEMA_VERSION:
            conn.close()
            raise CatalogError(f"{self.path} was written by a newer lakelib (schema {row[0]})")
        self._ready = True

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL once (the mode is stored in the file).

        Changing the journal mode needs an exclusive lock and SQLite does not wait on
        ``busy_timeout`` for it, so a second process creating the catalog at the same moment
        retries here instead of failing with "database is locked".
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() == "wal":
                    return
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._open()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot read catalog {self.path}: {exc}") from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._open()
        try:
            with _transaction(conn, self.path):
                conn.execute(
                    "INSERT OR IGNORE INTO databases (name, created_at) VALUES (?, ?)",
                    (self._database, utc_now()),
                )
                yield conn
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot write catalog {self.path}: {exc}") from exc
        finally:
            conn.close()

    # -- tables ----------------------------------------------------------------------------

    def _row_to_table(self, row: sqlite3.Row | tuple[Any, ...]) -> Table:
        name, columns, keys, location, classification, compression, params, desc, version = row
        try:
            return Table(
                database=self._database,
                name=name,
                columns=columns_from_json(json.loads(columns)),
                partition_keys=tuple(json.loads(keys)),
                location=location,
                classification=classification,
                compression=compression,
                parameters=json.loads(params),
                description=desc,
                version=version,
            )
        except _DAMAGE as exc:
            raise self._damaged(f"table {name}", exc) from exc

    def _damaged(self, what: str, exc: Exception) -> CatalogError:
        return CatalogError(
            f"catalog {self.path} is damaged: {what} cannot be read ({type(exc).__name__}: "
            f"{exc}); `lake status` lists every problem; {REPAIR}"
        )

    def _select_table(self, conn: sqlite3.Connection, name: str) -> Table | None:
        row = conn.execute(
            f"SELECT {_TABLE_FIELDS} FROM tables WHERE database = ? AND name = ?",
            (self._database, name),
        ).fetchone()
        return None if row is None else self._row_to_table(row)

    def find_table(self, name: str) -> Table | None:
        with self._read() as conn:
            return self._select_table(conn, name)

    def get_table(self, name: str) -> Table:
        table = self.find_table(name)
        if table is None:
            raise TableNotFoundError(f"no table {self._database}.{name} in {self.path}")
        return table

    def list_tables(self) -> list[Table]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_TABLE_FIELDS} FROM tables WHERE database = ? ORDER BY name",
                (self._database,),
            ).fetchall()
        return [self._row_to_table(row) for row in rows]

    def put_table(self, table: Table, *, expected_version: int | None = None) -> TableChange:
        table = self._own(table)
        now = utc_now()
        with self._write() as conn:
            old = self._select_table(conn, table.name)
            stored = old.version if old else 0
            if expected_version is not None and expected_version != stored:
                raise ConcurrentUpdateError(
                    f"table {table.name} is at schema version {stored}, expected "
                    f"{expected_version}: it changed while we were reading it"
                )
            change = diff_tables(old, table)
            if change.action == "unchanged":
                return change
            values = (
                _dumps(columns_to_json(table.columns)),
                _dumps(list(table.partition_keys)),
                table.location,
                table.classification,
                table.compression,
                _dumps(dict(table.parameters)),
                table.description,
                change.version,
            )
            if old is None:
                conn.execute(
                    "INSERT INTO tables (database, name, columns, partition_keys, location, "
                    "classification, compression, parameters, description, schema_version, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self._database, table.name, *values, now, now),
                )
            else:
                conn.execute(
                    "UPDATE tables SET columns = ?, partition_keys = ?, location = ?, "
                    "classification = ?, compression = ?, parameters = ?, description = ?, "
                    "schema_version = ?, updated_at = ? WHERE database = ? AND name = ?",
                    (*values, now, self._database, table.name),
                )
            if change.version != stored:
                self._insert_version(
                    conn,
                    table.name,
                    SchemaVersion(
                        change.version,
                        table.columns,
                        table.partition_keys,
                        now,
                        tuple(change.lines()),
                    ),
                )
            if old is not None and old.partition_keys != table.partition_keys:
                # Partitions of another layout can no longer be addressed: drop them openly.
                dropped = conn.execute(
                    "DELETE FROM partitions WHERE database = ? AND table_name = ?",
                    (self._database, table.name),
                ).rowcount
                log.warning(
                    "%s: partition keys changed, %d partitions dropped", table.name, dropped
                )
        log.info("%s: %s (schema version %d)", table.name, change.action, change.version)
        return change

    def _insert_version(self, conn: sqlite3.Connection, table: str, entry: SchemaVersion) -> None:
        conn.execute(
            "INSERT INTO schema_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self._database,
                table,
                entry.version,
                _dumps(columns_to_json(entry.columns)),
                _dumps(list(entry.partition_keys)),
                entry.changed_at,
                _dumps(list(entry.changes)),
            ),
        )

    def delete_table(self, name: str) -> None:
        with self._write() as conn:
            deleted = conn.execute(
                "DELETE FROM tables WHERE database = ? AND name = ?", (self._database, name)
            ).rowcount
        if not deleted:
            raise TableNotFoundError(f"no table {self._database}.{name} in {self.path}")

    def schema_history(self, table: str) -> list[SchemaVersion]:
        self.get_table(table)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT version, columns, partition_keys, changed_at, changes "
                "FROM schema_versions WHERE database = ? AND table_name = ? ORDER BY version",
                (self._database, table),
            ).fetchall()
        try:
            return [
                SchemaVersion(
                    version,
                    columns_from_json(json.loads(columns)),
                    tuple(json.loads(keys)),
                    changed_at,
                    tuple(json.loads(changes)),
                )
                for version, columns, keys, changed_at, changes in rows
            ]
        except _DAMAGE as exc:
            raise self._damaged(f"the schema history of {table}", exc) from exc

    # -- partitions ------------------------------------------------------------------------

    def list_partitions(self, table: str, filter: PartitionFilter = None) -> list[Partition]:
        with self._read() as conn:
            if self._select_table(conn, table) is None:
                raise TableNotFoundError(f"no table {self._database}.{table} in {self.path}")
            rows = conn.execute(
                'SELECT "values", location FROM partitions WHERE database = ? AND table_name = ?',
                (self._database, table),
            ).fetchall()
        try:
            found = [Partition(json.loads(values), location) for values, location in rows]
        except _DAMAGE as exc:
            raise self._damaged(f"a partition of {table}", exc) from exc
        return sort_partitions(p for p in found if match_partition(p.values, filter))

    def add_partitions(self, table: str, partitions: Iterable[Partition]) -> int:
        now = utc_now()
        changed = 0
        with self._write() as conn:
            stored = self._select_table(conn, table)
            if stored is None:
                raise TableNotFoundError(f"no table {self._database}.{table} in {self.path}")
            for partition in partitions:
                own = stored.partition(partition.values, partition.location)
                changed += conn.execute(
                    "INSERT INTO partitions VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (database, table_name, spec) DO UPDATE SET "
                    "location = excluded.location WHERE location != excluded.location",
                    (
                        self._database,
                        table,
                        own.spec,
                        _dumps_ordered(own.values),
                        own.location,
                        now,
                    ),
                ).rowcount
        return changed

    def delete_partitions(self, table: str, values: Iterable[Mapping[str, str] | Partition]) -> int:
        deleted = 0
        with self._write() as conn:
            stored = self._select_table(conn, table)
            if stored is None:
                raise TableNotFoundError(f"no table {self._database}.{table} in {self.path}")
            for item in values:
                spec = stored.partition(partition_values(item)).spec
                deleted += conn.execute(
                    "DELETE FROM partitions WHERE database = ? AND table_name = ? AND spec = ?",
                    (self._database, table, spec),
                ).rowcount
        return deleted

    # -- integrity -------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems in the catalog file, one line each; empty when it is sound or absent.

        Runs SQLite's ``PRAGMA quick_check`` (page structure, indexes, constraints),
        ``PRAGMA foreign_key_check`` (partitions of tables that are gone), and reads back
        every JSON column of every row, of every database in the file. The file is opened
        read-only and never created.

        Raises
        ------
        CatalogError
            when the file cannot be read at all (not a database, truncated header,
            unreadable): nothing in it can be trusted.

        Examples
        --------
        >>> LocalCatalog(home / "catalog.sqlite").check()           # doctest: +SKIP
        ['table data_lake_db.raw_sales: columns is not valid JSON (...)']
        """
        if not self.path.exists():
            return []
        try:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.timeout
            )
        except sqlite3.Error as exc:
            raise CatalogError(f"catalog {self.path} is unreadable: {exc}; {REPAIR}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            try:
                verdict = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
                names = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
            except sqlite3.DatabaseError as exc:
                raise CatalogError(f"catalog {self.path} is unreadable: {exc}; {REPAIR}") from exc
            problems = [f"storage: {line}" for line in verdict if line != "ok"]
            missing = [t for t in _CATALOG_TABLES if t not in names]
            problems += [f"table {name} of the catalog schema is missing" for name in missing]
            if not missing:
                problems += _row_problems(conn)
            return problems
        except sqlite3.DatabaseError as exc:
            # quick_check passed but reading rows failed: damage in the data pages.
            return [f"storage: {exc}"]
        finally:
            conn.close()

    # -- restore ---------------------------------------------------------------------------

    def restore_table(
        self, table: Table, partitions: Sequence[Partition], history: Sequence[SchemaVersion]
    ) -> None:
        table = self._own(table)
        now = utc_now()
        with self._write() as conn:
            conn.execute(
                "DELETE FROM tables WHERE database = ? AND name = ?", (self._database, table.name)
            )
            conn.execute(
                "INSERT INTO tables (database, name, columns, partition_keys, location, "
                "classification, compression, parameters, description, schema_version, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._database,
                    table.name,
                    _dumps(columns_to_json(table.columns)),
                    _dumps(list(table.partition_keys)),
                    table.location,
                    table.classification,
                    table.compression,
                    _dumps(dict(table.parameters)),
                    table.description,
                    table.version,
                    now,
                    now,
                ),
            )
            for entry in history:
                self._insert_version(conn, table.name, entry)
            for partition in partitions:
                own = table.partition(partition.values, partition.location)
                conn.execute(
                    "INSERT INTO partitions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        self._database,
                        table.name,
                        own.spec,
                        _dumps_ordered(own.values),
                        own.location,
                        now,
                    ),
                )

    def _own(self, table: Table) -> Table:
        if table.database != self._database:
            raise CatalogError(
                f"table {table.database}.{table.name} does not belong to database {self._database}"
            )
        return table


# What reading a row whose JSON was damaged raises: bad JSON, a wrong shape, a missing key.
_DAMAGE = (ValueError, TypeError, KeyError, AttributeError)
_CATALOG_TABLES = ("meta", "databases", "tables", "partitions", "schema_versions")


def _row_problems(conn: sqlite3.Connection) -> list[str]:
    """One line per row whose JSON columns do not read back, and per orphaned row."""
    problems: list[str] = []

    def bad(what: str, column: str, text: str, shape: type) -> None:
        try:
            value: Any = json.loads(text)
        except (ValueError, TypeError) as exc:
            problems.append(f"{what}: {column} is not valid JSON ({exc})")
            return
        if not isinstance(value, shape):
            problems.append(
                f"{what}: {column} is a JSON {type(value).__name__}, not a {shape.__name__}"
            )
            return
        if column == "columns" and isinstance(value, list):
            try:
                columns_from_json(value)
            except _DAMAGE as exc:
                problems.append(f"{what}: columns lack a name or type ({exc})")

    for database, name, columns, keys, params in conn.execute(
        "SELECT database, name, columns, partition_keys, parameters FROM tables "
        "ORDER BY database, name"
    ):
        what = f"table {database}.{name}"
        bad(what, "columns", columns, list)
        bad(what, "partition_keys", keys, list)
        bad(what, "parameters", params, dict)
    for database, table, spec, values in conn.execute(
        'SELECT database, table_name, spec, "values" FROM partitions '
        "ORDER BY database, table_name, spec"
    ):
        bad(f"partition {database}.{table} {spec}", "values", values, dict)
    for database, table, version, columns, keys, changes in conn.execute(
        "SELECT database, table_name, version, columns, partition_keys, changes "
        "FROM schema_versions ORDER BY database, table_name, version"
    ):
        what = f"schema version {version} of {database}.{table}"
        bad(what, "columns", columns, list)
        bad(what, "partition_keys", keys, list)
        bad(what, "changes", changes, list)
    orphans = Counter(str(row[0]) for row in conn.execute("PRAGMA foreign_key_check"))
    problems += [
        f"{count} row(s) of {table} belong to no table or database"
        for table, count in sorted(orphans.items())
    ]
    return problems


def _dumps_ordered(values: Mapping[str, str]) -> str:
    # Partition values keep partition-key order; sorting them would lose it.
    return json.dumps(dict(values), separators=(",", ":"))


@contextmanager
def _transaction(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise CatalogError(f"catalog {path} is busy or unwritable: {exc}") from exc
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise CatalogError(f"cannot write catalog {path}: {exc}") from exc
