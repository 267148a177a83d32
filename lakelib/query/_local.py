"""The local engine: DuckDB over the lake's files, tables resolved through the catalog.

Planning a query:

1. parse the Trino text (:mod:`lakelib.query._trino`), ``?`` -> ``$p1 ...``;
2. resolve every table reference (``table`` or ``db.table``; CTE names are not tables)
   through the catalog, read the partition-key predicates of the ``WHERE`` directly over it
   (:mod:`lakelib.query._prune`) and list only the partitions that pass, then only their files;
3. apply the Trino fixes and replace each table by a DuckDB scan of exactly those files:
   ``read_parquet`` / ``read_json`` (columns typed as the catalog says, gzip handled) /
   ``read_csv``, partition keys supplied as ``VARCHAR`` (Glue types them ``string``).

**Scan accounting** counts the bytes of every file handed to DuckDB: an upper bound of what
is read. Athena bills whole (compressed) files for JSON and CSV, which this matches; for
Parquet Athena bills only the column chunks it reads, so the local figure can be higher.

One DuckDB connection per engine (created on first use, never at import), one cursor per
query; the catalog is read on every query, so bindings always reflect the current catalog.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlglot import exp

from lakelib.catalog import Catalog, Partition, Table, open_catalog
from lakelib.catalog._types import parse as parse_hive_type
from lakelib.config import Settings
from lakelib.errors import CatalogError, QueryError
from lakelib.query._macros import install_macros
from lakelib.query._prune import KeyFilter, key_filter
from lakelib.query._results import (
    CUTOFF_MESSAGE,
    Explanation,
    QueryRecord,
    QueryResult,
    ResultLocation,
    max_result_rows,
    scan_cost_usd,
    utc_now,
)
from lakelib.query._sandbox import (
    RealPaths,
    allowed_directories,
    is_inside,
    refuse_outside_access,
    refuse_reader_calls,
    sandboxed_connection,
)
from lakelib.query._trino import parse_trino, refuse, rewrite, to_duckdb
from lakelib.query._typing import (
    Facts,
    apply_facts,
    check_operand_kinds,
    check_types,
    kind_of_type,
)

log = logging.getLogger(__name__)

# Rows per batch streamed from DuckDB to the result CSV: a few MB for a typical row.
BATCH_ROWS = 65_536
# Rows of a result too large to hold that are kept anyway, for a look at its first lines.
PREVIEW_ROWS = 1_000

_SUFFIXES = {
    "parquet": (".parquet", ".parq"),
    "json": (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz"),
    "csv": (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz"),
}


@dataclass
class TableScan:
    """What one table reference of a query reads."""

    table: str
    alias: str
    classification: str
    partitions_total: int
    partitions_read: int
    files: list[tuple[str, int]] = field(default_factory=list)
    filter: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.files)

    def summary(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "alias": self.alias,
            "format": self.classification,
            "partitions_total": self.partitions_total,
            "partitions_read": self.partitions_read,
            "files": len(self.files),
            "bytes": self.bytes,
            "partition_filter": self.filter,
        }


@dataclass
class LocalPlan:
    """A query ready to run on DuckDB."""

    sql: str
    duckdb_sql: str
    params: dict[str, Any]
    scans: list[TableScan]
    planning_ms: float

    @property
    def bytes_scanned(self) -> int:
        return sum(scan.bytes for scan in self.scans)


# -- Hive types -> DuckDB types ------------------------------------------------------------

_PRIMITIVE = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
    "binary": "BLOB",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_type(hive: str) -> str:
    """The DuckDB type for a Glue/Hive type string (``struct<a:string>`` -> ``STRUCT(...)``)."""
    return _render(parse_hive_type(hive))


def _render(tree: Any) -> str:
    if tree is None:
        return "VARCHAR"
    if isinstance(tree, str):
        if tree.startswith("decimal("):
            return tree.upper()
        return _PRIMITIVE[tree]
    kind = tree[0]
    if kind == "array":
        return f"{_render(tree[1])}[]"
    if kind == "map":
        return f"MAP({_render(tree[1])}, {_render(tree[2])})"
    return "STRUCT(" + ", ".join(f"{_quote(n)} {_render(t)}" for n, t in tree[1]) + ")"


# -- files --------------------------------------------------------------------------------


def _data_files(
    folder: str,
    classification: str,
    roots: Sequence[str] = (),
    realpath: Callable[[str], str] = os.path.realpath,
) -> list[tuple[str, int]]:
    """Data files under a folder, sorted; hidden (``.``) and marker (``_``) names skipped.

    With ``roots``, a symlink that leads outside them is refused: DuckDB's fence checks the
    path it is given, not where a link points.
    """
    suffixes = _SUFFIXES[classification]
    found: list[tuple[str, int]] = []
    pending = [folder]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.startswith((".", "_")):
                continue
            if roots and entry.is_symlink() and not is_inside(entry.path, roots, realpath):
                raise QueryError(
                    f"{entry.path} links outside the lake's folders; the local engine reads "
                    "only the lake's own files"
                )
            if entry.is_dir():
                pending.append(entry.path)
            elif entry.name.lower().endswith(suffixes):
                found.append((entry.path, entry.stat().st_size))
    found.sort()
    return found


def _spec(partition: Partition) -> str:
    # Partition.spec re-validates every name; the catalog has validated them already.
    return "/".join(f"{k}={v}" for k, v in partition.values.items())


def _reader(table: Table, paths: list[str], hive: bool) -> str:
    files = "[" + ", ".join(_literal(p) for p in paths) + "]"
    options: list[str] = []
    if hive and table.partition_keys:
        types = ", ".join(f"{_literal(k)}: 'VARCHAR'" for k in table.partition_keys)
        options += ["hive_partitioning=true", f"hive_types={{{types}}}"]
    else:
        options.append("hive_partitioning=false")
    columns = (
        "{"
        + ", ".join(f"{_literal(c.name)}: {_literal(duckdb_type(c.type))}" for c in table.columns)
        + "}"
    )
    if table.classification == "parquet":
        # Files written under one schema version share a schema; only a table whose schema
        # changed needs DuckDB to read every footer and match columns by name.
        if table.version > 1:
            options.append("union_by_name=true")
        return f"read_parquet({files}, {', '.join(options)})"
    if table.classification == "json":
        options += ["format='newline_delimited'", f"columns={columns}"]
        return f"read_json({files}, {', '.join(options)})"
    params = table.parameters
    header = params.get("skip.header.line.count", "0") not in {"", "0"}
    delim = params.get("delimiter") or params.get("field.delim") or ","
    options += [
        f"header={'true' if header else 'false'}",
        f"delim={_literal(delim)}",
        f"quote={_literal(params.get('quoteChar', chr(34)))}",
        f"columns={columns}",
    ]
    return f"read_csv({files}, {', '.join(options)})"


def _is_hive_layout(partition: Partition) -> bool:
    return partition.location.rstrip("/").endswith(_spec(partition))


def source_sql(
    table: Table, partitions: Sequence[Partition] | None, files: dict[str, list[tuple[str, int]]]
) -> str:
    """The DuckDB ``SELECT`` that reads a table's chosen files, columns in catalog order."""
    columns = [_quote(c.name) for c in table.columns]
    keys = [_quote(k) for k in table.partition_keys]
    select = ", ".join(columns + keys)
    every = [path for group in files.values() for path, _ in group]
    if not every:
        empty = [f"CAST(NULL AS {duckdb_type(c.type)}) AS {_quote(c.name)}" for c in table.columns]
        empty += [f"CAST(NULL AS VARCHAR) AS {k}" for k in keys]
        return f"SELECT {', '.join(empty)} WHERE false"
    if not table.partition_keys or partitions is None:
        return f"SELECT {select} FROM {_reader(table, every, hive=False)}"
    chosen = [p for p in partitions if files.get(_spec(p))]
    if all(_is_hive_layout(p) for p in chosen):
        return f"SELECT {select} FROM {_reader(table, every, hive=True)}"
    # Partitions registered outside k=v folders: one scan each, keys as constants.
    parts = []
    for p in chosen:
        consts = [f"{_literal(p.values[k])} AS {_quote(k)}" for k in table.partition_keys]
        paths = [path for path, _ in files[_spec(p)]]
        parts.append(
            f"SELECT {', '.join(columns + consts)} FROM {_reader(table, paths, hive=False)}"
        )
    return " UNION ALL ".join(parts)


# -- the engine ---------------------------------------------------------------------------


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _select_of(table: exp.Table) -> exp.Select | None:
    parent = table.parent
    if isinstance(parent, exp.From | exp.Join) and isinstance(parent.parent, exp.Select):
        return parent.parent
    return None


def _sources_of(select: exp.Select) -> list[exp.Expression]:
    found: list[exp.Expression] = []
    from_ = select.args.get("from") or select.args.get("from_")
    if from_ is not None:
        found.append(from_.this)
    for join in select.args.get("joins") or []:
        found.append(join.this)
    return found


def _column_kinds(
    resolved: list[tuple[exp.Table, Table]],
) -> Callable[[exp.Column], tuple[str, str] | None]:
    """How to find a column's comparison kind from the catalog (None when unsure).

    A qualified column names its table by alias; an unqualified one is looked up only in a
    SELECT whose every source is a catalog table, and only if exactly one has the name.
    """
    by_node = {id(node): table for node, table in resolved}

    def kinds_of(table: Table) -> dict[str, tuple[str, str] | None]:
        found = {c.name: kind_of_type(c.type) for c in table.columns}
        found.update({key: ("varchar", "varchar") for key in table.partition_keys})
        return found

    def column_kind(column: exp.Column) -> tuple[str, str] | None:
        select = column.find_ancestor(exp.Select)
        if select is None:
            return None
        sources = _sources_of(select)
        if not sources or not all(isinstance(s, exp.Table) and id(s) in by_node for s in sources):
            return None
        tables = {(s.alias or s.name).lower(): by_node[id(s)] for s in sources}
        name = column.name.lower()
        if column.table:
            table = tables.get(column.table.lower())
            return kinds_of(table).get(name) if table is not None else None
        owners = [t for t in tables.values() if name in kinds_of(t)]
        return kinds_of(owners[0]).get(name) if len(owners) == 1 else None

    return column_kind


@dataclass
class _Checked:
    """A query text parsed and checked: what planning it again would find the same.

    Everything here follows from the text alone (the catalog, the files and the parameter
    values are read on every plan). ``tree`` is never changed once cached: the plan reads
    it (operand kinds, partition-key predicates) and translates a copy.
    """

    tree: exp.Expression
    count: int
    tables: list[exp.Table]  # the references resolved through the catalog, in tree order
    # The DuckDB text with each table a marker, and the markers (made by the first plan
    # that gets there; one attribute, so a concurrent plan sees both or neither).
    translation: tuple[object, str, list[str]] | None = None
    # The catalog schema (see _schema) under which the query's operand types were checked,
    # and what the types decided about the translation (which depends on both).
    typed: tuple[object, Facts] | None = None


# Query text -> _Checked, most recently used last; only texts that passed every check.
# A parsed tree takes far more memory than its text: long texts (generated IN lists, where
# parsing dominates anyway) are checked every time instead of kept.
_CHECKED: OrderedDict[str, _Checked] = OrderedDict()
_CHECKED_SIZE = 128
_CHECKED_MAX_TEXT = 20_000
_checked_lock = threading.Lock()


def _checked(sql: str, params: Sequence[Any]) -> _Checked:
    """Parse and check a query text (the checks in the order they report), or reuse them."""
    with _checked_lock:
        found = _CHECKED.get(sql)
        if found is not None:
            _CHECKED.move_to_end(sql)
    if found is None:
        refuse_reader_calls(sql)
        tree, count = parse_trino(sql)
    else:
        tree, count = found.tree, found.count
    if count != len(params):
        raise QueryError(
            f"the query has {count} parameter(s) (?) but {len(params)} value(s) were given"
        )
    if found is not None:
        return found
    refuse(tree)  # before tables are swapped out: TABLESAMPLE hangs off a table node
    refuse_outside_access(tree)
    found = _Checked(tree, count, _table_references(tree))
    if len(sql) > _CHECKED_MAX_TEXT:
        return found
    with _checked_lock:
        _CHECKED[sql] = found
        while len(_CHECKED) > _CHECKED_SIZE:
            _CHECKED.popitem(last=False)
    return found


def _schema(resolved: list[tuple[exp.Table, Table]]) -> dict[str, dict[str, str]]:
    """The query's tables as sqlglot's optimizer reads a schema: name -> column -> type."""
    schema: dict[str, dict[str, str]] = {}
    for _, table in resolved:
        columns = {c.name: c.type for c in table.columns}
        columns.update({key: "string" for key in table.partition_keys})
        schema[table.name.lower()] = columns
    return schema


def _check_types(
    checked: _Checked, resolved: list[tuple[exp.Table, Table]], database: str
) -> tuple[object, Facts]:
    """Refuse mixed-type operations anywhere in the query (once per text and schema).

    Typed by sqlglot's optimizer over the catalog's columns; a tree it cannot type is
    checked the narrower way (literals and catalog columns read directly). Returns the
    schema's key and what the types decided, for this plan (another thread's plan may
    store another schema's meanwhile).
    """
    schema = _schema(resolved)
    key = (database.lower(), repr(sorted(schema.items())))
    known = checked.typed
    if known is not None and known[0] == key:
        return known
    facts = check_types(checked.tree, schema, database.lower())
    if facts is None:
        check_operand_kinds(checked.tree, _column_kinds(resolved))
    typed = (key, facts or Facts())
    checked.typed = typed
    return typed


def _table_references(tree: exp.Expression) -> list[exp.Table]:
    """The table nodes that name catalog tables (CTE names are not tables), in tree order."""
    ctes = _cte_names(tree)
    return [
        node
        for node in tree.find_all(exp.Table)
        if node.name and not (not node.db and node.name.lower() in ctes)
    ]


def _translate(
    checked: _Checked, aliases: list[str], facts: Facts | None = None
) -> tuple[str, list[str]]:
    """The DuckDB text of a checked query with each table reference a marker name.

    Each table becomes a marker name, spliced with its scan after generation: the scan text
    (file lists of hundreds of paths) never goes through sqlglot, and the marker is a name no
    query can contain (it holds a random token).
    """
    tree = checked.tree.copy()
    apply_facts(tree, facts or Facts())
    nodes = _table_references(tree)
    if len(nodes) != len(checked.tables):
        raise QueryError("internal error: a table reference was lost in translation")
    token = uuid.uuid4().hex
    # The trailing 'x' keeps marker 1 from being the start of marker 10.
    markers = [f"__lake_{token}_{n}x" for n in range(len(nodes))]
    for node, alias, marker in zip(nodes, aliases, markers, strict=True):
        node.replace(
            exp.Table(
                this=exp.to_identifier(marker),
                alias=exp.TableAlias(this=exp.to_identifier(alias)),
            )
        )
    duck = to_duckdb(rewrite(tree))
    for marker in markers:
        if duck.count(marker) != 1:
            raise QueryError("internal error: a table reference was lost in translation")
    return duck, markers


class LocalEngine:
    """Trino SQL on DuckDB over the local lake (the embedded default)."""

    name = "duckdb"

    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self._catalog = catalog
        self._con: Any = None
        self._lock = threading.Lock()
        self._roots: tuple[Settings, list[str]] | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = open_catalog(self.settings)
        return self._catalog

    def connection(self) -> Any:
        with self._lock:
            if self._con is None:
                import duckdb  # deferred: importing lakelib.query never starts DuckDB

                con = sandboxed_connection(self.settings)
                try:
                    install_macros(con)
                except duckdb.Error:
                    con.close()
                    raise
                self._con = con
            return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _allowed(self) -> list[str]:
        """The folders a query may read, for the current settings (worked out once each)."""
        known = self._roots
        if known is None or known[0] is not self.settings:
            known = (self.settings, allowed_directories(self.settings))
            self._roots = known
        return known[1]

    # -- planning -------------------------------------------------------------------------

    def plan(self, sql: str, *, database: str, params: Sequence[Any] | None = None) -> LocalPlan:
        """Parse, resolve, prune and translate; nothing is read but the catalog and listings."""
        started = time.perf_counter()
        params = list(params or [])
        checked = _checked(sql, params)
        resolved: list[tuple[exp.Table, Table]] = []
        for node in checked.tables:
            for arg, what in (
                ("version", "time travel (FOR VERSION/TIMESTAMP AS OF)"),
                ("pivots", "PIVOT / UNPIVOT"),
                ("hints", "table hints"),
            ):
                if node.args.get(arg):
                    raise QueryError(f"not supported by the local engine: {what}")
            resolved.append((node, self._resolve(node, database)))

        typed = _check_types(checked, resolved, database)
        scans: list[TableScan] = []
        sources: list[str] = []
        roots = self._allowed()
        realpath = RealPaths()  # this plan's: partitions share their parent folders
        for node, table in resolved:
            alias = node.alias or node.name
            keys = self._key_filter(node, table, resolved, params)
            partitions: list[Partition] | None = None
            files: dict[str, list[tuple[str, int]]] = {}
            total = 0
            if table.partition_keys:
                all_parts = self.catalog.list_partitions(table.name)
                total = len(all_parts)
                partitions = [p for p in all_parts if keys(p.values)] if keys else all_parts
                for p in partitions:
                    _check_inside(table, p.location, roots, realpath)
                    files[_spec(p)] = _data_files(p.location, table.classification, roots, realpath)
            else:
                _check_inside(table, table.location, roots, realpath)
                files[""] = _data_files(table.location, table.classification, roots, realpath)
            scan = TableScan(
                table=f"{table.database}.{table.name}",
                alias=alias,
                classification=table.classification,
                partitions_total=total,
                partitions_read=len(partitions) if partitions is not None else 0,
                files=[f for group in files.values() for f in group],
                filter=keys.describe(),
            )
            scans.append(scan)
            sources.append(source_sql(table, partitions, files))

        translation = checked.translation
        if translation is None or translation[0] != typed[0]:
            # Translated once per text and schema: they decide the translation.
            aliases = [node.alias or node.name for node, _ in resolved]
            translation = (typed[0], *_translate(checked, aliases, typed[1]))
            checked.translation = translation
        _, duck, markers = translation
        for marker, source in zip(markers, sources, strict=True):
            duck = duck.replace(marker, f"({source})")
        bound = {f"p{i}": value for i, value in enumerate(params, 1)}
        elapsed = (time.perf_counter() - started) * 1000
        return LocalPlan(sql, duck, bound, scans, elapsed)

    def _resolve(self, node: exp.Table, database: str) -> Table:
        db = node.db or database
        if node.catalog and node.catalog.lower() not in {"awsdatacatalog"}:
            raise QueryError(f"unknown catalog {node.catalog!r} (the lake has awsdatacatalog)")
        position = ""
        meta = node.this.meta if isinstance(node.this, exp.Identifier) else {}
        if meta.get("line"):
            position = f"line {meta['line']}:{meta.get('col', 0) - len(node.name) + 1}: "
        if db.lower() != self.catalog.database.lower():
            raise QueryError(
                f"{position}Schema '{db}' does not exist (the catalog database is "
                f"{self.catalog.database})"
            )
        try:
            table = self.catalog.find_table(node.name.lower())
        except CatalogError as exc:
            raise QueryError(f"cannot read the catalog: {exc}") from exc
        if table is None:
            known = ", ".join(t.name for t in self.catalog.list_tables()) or "none"
            raise QueryError(
                f"{position}Table '{db}.{node.name}' does not exist (known tables: {known})"
            )
        return table

    def _key_filter(
        self,
        node: exp.Table,
        table: Table,
        resolved: list[tuple[exp.Table, Table]],
        params: list[Any],
    ) -> KeyFilter:
        select = _select_of(node)
        if select is None or not table.partition_keys:
            return KeyFilter()
        alias = (node.alias or node.name).lower()
        others = [(n, t) for n, t in resolved if n is not node and _select_of(n) is select]
        sources = _sources_of(select)
        only_tables = (
            all(isinstance(s, exp.Table) for s in sources) and len(others) == len(sources) - 1
        )
        other_columns = {c.name for _, t in others for c in (*t.columns, *t.partition_columns)}

        def is_key(column: exp.Column) -> str | None:
            name = column.name.lower()
            if name not in table.partition_keys:
                return None
            if column.table:
                return name if column.table.lower() == alias else None
            # Unqualified: only when no other source of this SELECT could own the name.
            return name if only_tables and name not in other_columns else None

        return key_filter(select.args.get("where"), is_key, params)

    # -- execution ------------------------------------------------------------------------

    def batches(self, plan: LocalPlan, cursor: Any) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """Run a plan: its result schema and its rows as a stream of record batches.

        DuckDB produces the rows as they are fetched; nothing holds the whole result. HUGEINT
        sums are narrowed to BIGINT, as Trino types them. Errors, whether DuckDB raises them
        at the start or while streaming, come out as :class:`QueryError`.
        """
        import duckdb

        try:
            relation = cursor.sql(plan.duckdb_sql, params=plan.params or None)
            if relation is None:
                return pa.schema([]), iter(())
            hugeint = [
                n
                for n, t in zip(relation.columns, relation.types, strict=True)
                if str(t) == "HUGEINT"
            ]
            reader = relation.to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            raise QueryError(_duckdb_message(exc)) from exc
        schema = reader.schema
        for name in hugeint:
            index = schema.get_field_index(name)
            schema = schema.set(index, pa.field(name, pa.int64()))

        def stream() -> Iterator[pa.RecordBatch]:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (duckdb.Error, pa.ArrowException, OSError) as exc:
                    # DuckDB's errors while streaming reach Python through Arrow's reader.
                    raise QueryError(_duckdb_message(exc)) from exc
                for name in hugeint:
                    index = batch.schema.get_field_index(name)
                    try:
                        column = batch.column(index).cast(pa.int64())
                    except pa.ArrowInvalid as exc:
                        raise QueryError(f"bigint overflow in column {name}") from exc
                    batch = batch.set_column(index, name, column)
                yield batch

        return schema, stream()

    def execute(self, plan: LocalPlan, cursor: Any = None) -> pa.Table:
        """Run a plan and return all its rows as one table."""
        own = cursor is None
        cursor = cursor if cursor is not None else self.connection().cursor()
        try:
            schema, stream = self.batches(plan, cursor)
            return pa.Table.from_batches(list(stream), schema=schema)
        finally:
            if own:
                cursor.close()


def _check_inside(
    table: Table,
    location: str,
    roots: Sequence[str],
    realpath: Callable[[str], str] = os.path.realpath,
) -> None:
    """Refuse a table (or partition) the catalog places outside the lake's folders."""
    if not is_inside(location, roots, realpath):
        raise QueryError(
            f"table {table.name} is stored at {location}, outside the lake's folders; the "
            "local engine reads only the lake's own files"
        )


def _duckdb_message(exc: Exception) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    denied = re.match(
        r"Permission Error: (.*?)(?: - file system operations are disabled.*)?$", first
    )
    if denied:
        # The sandbox's answer to anything outside the lake (a file, a URL, an extension).
        what = denied.group(1)
        return (
            f"{what[:1].lower()}{what[1:]}: the local engine reads only the lake's own folders "
            "(permission error in the local engine)"
        )
    missing = re.search(
        r"(?:Scalar|Aggregate|Table) Function with name (\w+) does not exist", first
    )
    if missing:
        return f"function {missing.group(1)} is not supported by the local engine"
    for prefix in (
        "Invalid Input Error: ",
        "Binder Error: ",
        "Catalog Error: ",
        "Conversion Error: ",
        "Parser Error: ",
        "Out of Range Error: ",
    ):
        if first.startswith(prefix):
            kind = prefix.split(" Error")[0].lower()
            return f"{first[len(prefix) :]} ({kind} error in the local engine)"
    return first


# -- the QueryEngine face: run, explain, history, cancel -----------------------------------


class LocalQueries(LocalEngine):
    """:class:`LocalEngine` plus Athena's bookkeeping: records, results, cutoff, cancel."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        super().__init__(settings, catalog)
        self._results: ResultLocation | None = None
        self._running: dict[str, Any] = {}
        self._cancelled: set[str] = set()

    @property
    def results(self) -> ResultLocation:
        if self._results is None:
            self._results = ResultLocation(self.settings)
        return self._results

    def explain(
        self, sql: str, *, database: str, workgroup: str, params: Sequence[Any] | None = None
    ) -> Explanation:
        group = self.settings.workgroup(workgroup)
        plan = self.plan(sql, database=database, params=params)
        return Explanation(
            sql=sql,
            translated_sql=plan.duckdb_sql,
            engine=self.name,
            workgroup=group.name,
            bytes_scanned=plan.bytes_scanned,
            cost_usd=scan_cost_usd(plan.bytes_scanned),
            bytes_scanned_cutoff=group.bytes_scanned_cutoff,
            scans=[s.summary() for s in plan.scans],
        )

    def run(
        self,
        sql: str,
        *,
        database: str,
        workgroup: str,
        params: Sequence[Any] | None = None,
        query_id: str | None = None,
        ctas: bool = False,
    ) -> QueryResult:
        del ctas  # results are always read directly on the local engine
        group = self.settings.workgroup(workgroup)
        record = QueryRecord(
            query_id=query_id or str(uuid.uuid4()),
            workgroup=group.name,
            database=database,
            engine=self.name,
            sql=sql,
            params=list(params or []),
            submitted_at=utc_now(),
        )
        started = time.perf_counter()
        cap = max_result_rows(self.settings)
        self.results.write_record(record)
        try:
            plan = self.plan(sql, database=database, params=params)
            record.translated_sql = plan.duckdb_sql
            record.planning_ms = round(plan.planning_ms, 3)
            record.bytes_scanned = plan.bytes_scanned
            record.scans = [s.summary() for s in plan.scans]
            cutoff = group.bytes_scanned_cutoff
            if cutoff is not None and plan.bytes_scanned > cutoff:
                # Athena cancels a query once it passes the cutoff; the local engine knows the
                # scan before it starts, so it stops before reading anything.
                raise QueryError(
                    f"{CUTOFF_MESSAGE} (the query would scan {plan.bytes_scanned:,} bytes; "
                    f"workgroup {group.name} allows {cutoff:,} per query)"
                )
            executing = time.perf_counter()
            table, preview = self._execute_tracked(plan, record, group.name, cap)
            record.execution_ms = round((time.perf_counter() - executing) * 1000, 3)
        except _Cancelled as exc:
            self._finish(record, "CANCELLED", str(exc), started)
            raise QueryError(f"query {record.query_id} was cancelled") from None
        except KeyboardInterrupt:
            self._finish(record, "CANCELLED", "interrupted by the user", started)
            raise
        except QueryError as exc:
            self._finish(record, "FAILED", str(exc), started)
            raise
        except Exception as exc:
            self._finish(record, "FAILED", f"{type(exc).__name__}: {exc}", started)
            raise
        record.cost_usd = scan_cost_usd(record.bytes_scanned)
        self._finish(record, "SUCCEEDED", "", started)
        return QueryResult(table, record, max_rows=cap, preview=preview)

    def _finish(self, record: QueryRecord, state: str, reason: str, started: float) -> None:
        record.state = state
        record.state_reason = reason
        record.completed_at = utc_now()
        record.total_ms = round((time.perf_counter() - started) * 1000, 3)
        if state != "SUCCEEDED":
            record.output_location = ""
            self.results.discard_csv(record.workgroup, record.query_id)
            if state == "FAILED" and not reason.startswith(CUTOFF_MESSAGE):
                record.cost_usd = 0.0  # Athena does not bill failed queries
            else:
                record.cost_usd = scan_cost_usd(record.bytes_scanned)
        self.results.write_record(record)
        log.info("query %s %s in %.1f ms", record.query_id, state, record.total_ms)

    def _execute_tracked(
        self, plan: LocalPlan, record: QueryRecord, workgroup: str, cap: int
    ) -> tuple[pa.Table | None, pa.Table | None]:
        """Stream the rows into the result CSV; return them too if there are at most ``cap``.

        Returns ``(rows or None, preview)``: past the cap the batches kept so far are dropped
        but for the first :data:`PREVIEW_ROWS` rows (what ``lake query`` shows), so memory
        stays at one batch however large the result. Sets the record's row count and output
        location.
        """
        import duckdb

        query_id = record.query_id
        cursor = self.connection().cursor()
        self._running[query_id] = cursor
        sink = self.results.open_csv(workgroup, query_id)
        held: list[pa.RecordBatch] | None = []
        preview: list[pa.RecordBatch] = []
        try:
            schema, stream = self.batches(plan, cursor)
            for batch in stream:
                sink.write(batch)
                if held is not None:
                    held.append(batch)
                    if sink.rows > cap:
                        held = None
                if not preview:
                    preview.append(batch.slice(0, PREVIEW_ROWS))
                if query_id in self._cancelled:
                    raise _Cancelled("cancelled by request")
            if query_id in self._cancelled:
                raise _Cancelled("cancelled by request")
            record.rows = sink.rows
            record.output_location = sink.commit(schema)
        except duckdb.InterruptException as exc:
            sink.abort()
            raise _Cancelled("cancelled by request") from exc
        except QueryError as exc:
            sink.abort()
            if query_id in self._cancelled or isinstance(exc.__cause__, duckdb.InterruptException):
                raise _Cancelled("cancelled by request") from exc
            raise
        except BaseException:
            sink.abort()
            raise
        finally:
            self._running.pop(query_id, None)
            cursor.close()
        head = pa.Table.from_batches(preview, schema=schema)
        return (None if held is None else pa.Table.from_batches(held, schema=schema)), head

    def cancel(self, query_id: str) -> bool:
        """Interrupt a running query of this process; False if it is not running.

        Interrupts until the query has stopped (an interrupt that lands while DuckDB is
        still binding is otherwise lost); a result that completes anyway is discarded.
        """
        cursor = self._running.get(query_id)
        if cursor is None:
            return False
        self._cancelled.add(query_id)
        deadline = time.monotonic() + 10
        while query_id in self._running and time.monotonic() < deadline:
            cursor.interrupt()
            time.sleep(0.01)
        return True

    def history(self, limit: int = 20, workgroup: str | None = None) -> list[QueryRecord]:
        return self.results.history(limit, workgroup)


class _Cancelled(Exception):
    pass
