"""The local engine's fence: a query reaches only the lake's own folders.

Two layers, each enough on its own for the cases it knows:

1. **The query text** (:func:`refuse_outside_access`): DuckDB's file readers
   (``read_text``, ``read_csv``, ``glob``, ``query('…')`` ...) are refused wherever they
   appear, by name, before anything runs; so is any function in a table position (Trino has
   none but ``UNNEST``) and a file path used as a table name (``FROM '/etc/passwd'``).
2. **The connection** (:func:`sandboxed_connection`): DuckDB itself may open files only under
   the lake's data zones and the query-results zone (``allowed_directories`` with
   ``enable_external_access = false``), never installs or loads an extension, and its
   configuration is locked, so no statement can widen the fence. A reader that slipped past
   layer 1 fails here with a permission error.

Temporary files of a query that spills live in the query-results zone (``.duckdb-tmp``),
not in whatever folder the user ran ``lake`` from.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import TokenType

from lakelib.config import Settings, Zone
from lakelib.errors import QueryError

# Zones whose files catalog tables may live in, plus query-results (results, spill files).
READABLE_ZONES = (Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE, Zone.QUERY_RESULTS)

# DuckDB functions that read files, URLs, other databases or run SQL text of their own
# (``query``, ``query_table``, ``json_execute_serialized_sql``): never part of a lake query.
# Every ``read_*`` name is refused too, so a reader added by a later DuckDB is covered.
FILE_READERS = frozenset(
    {
        "glob",
        "query",
        "query_table",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_full_metadata",
        "parquet_kv_metadata",
        "parquet_page_index",
        "parquet_bloom_probe",
        "sniff_csv",
        "json_execute_serialized_sql",
        "iceberg_scan",
        "iceberg_metadata",
        "iceberg_snapshots",
        "delta_scan",
        "sqlite_scan",
        "sqlite_attach",
        "postgres_scan",
        "postgres_attach",
        "mysql_scan",
        "arrow_scan",
        "pandas_scan",
        "python_arrow_scan",
        "seq_scan",
        "getenv",
        "current_setting",
        "which_secret",
    }
)

_WHY = "it reads files outside the lake's tables; query catalog tables by name"


def is_file_reader(name: str) -> bool:
    """True for a DuckDB function name the local engine never runs (``read_text`` ...)."""
    name = name.lower()
    return name.startswith("read_") or name in FILE_READERS


def _refused(name: str) -> QueryError:
    return QueryError(f"function {name.lower()} is not supported by the local engine: {_WHY}")


def refuse_reader_calls(sql: str, dialect: str = "trino") -> None:
    """Refuse a call of a file reader in the query text, by its tokens.

    Runs before parsing: some readers (``glob('…')``) are not even valid Trino, and the
    user deserves the function's name rather than a syntax error. A name inside a string
    literal or a comment is not a token and is never matched.
    """
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except SqlglotError:
        return  # the parser reports the text's own error
    for token, following in itertools.pairwise(tokens):
        if following.token_type == TokenType.L_PAREN and is_file_reader(token.text):
            raise _refused(token.text)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name
    return node.sql_name()


def _looks_like_path(name: str) -> bool:
    # Catalog names are words; DuckDB would take a name with a slash, a dot or a wildcard
    # as a file to read (a "replacement scan").
    return any(ch in name for ch in "/\\.*?:~")


def refuse_outside_access(tree: exp.Expression) -> None:
    """Raise :class:`QueryError` if the query could read anything but catalog tables.

    Checked on the parsed tree, everywhere in it (subqueries, CTEs, joins, ``LATERAL``):
    file readers by name, any function used as a table, and file paths used as tables.
    """
    for node in tree.find_all(exp.Func):
        name = _function_name(node)
        if is_file_reader(name):
            raise _refused(name)
    for table in tree.find_all(exp.Table):
        inner = table.this
        if isinstance(inner, exp.Func):
            name = _function_name(inner)
            called = next(iter(inner.expressions), None)
            if name.lower() == "table" and isinstance(called, exp.Func):
                name = _function_name(called)  # FROM TABLE(f(...)): the user called f
            raise QueryError(
                f"function {name.lower()} is not supported by the local engine: table "
                "functions do not run on the lake (query catalog tables by name; UNNEST works)"
            )
        if isinstance(inner, exp.Identifier) and _looks_like_path(inner.name):
            raise QueryError(
                f"table {inner.name!r} is not supported by the local engine: a file path is "
                "not a table; query catalog tables by name"
            )
    for lateral in tree.find_all(exp.Lateral):
        if isinstance(lateral.this, exp.Func) and not isinstance(lateral.this, exp.Unnest):
            raise QueryError(
                f"function {_function_name(lateral.this).lower()} is not supported by the "
                "local engine: table functions do not run on the lake"
            )


# -- the connection -------------------------------------------------------------------------


def allowed_directories(settings: Settings) -> list[str]:
    """The folders DuckDB may open: the lake's data zones and its query-results zone.

    Each as given and resolved (a lake reached through a symlink is allowed under both
    spellings), with a trailing separator so ``/lake/raw`` does not also allow ``/lake/raw2``.
    """
    found: list[str] = []
    for zone in READABLE_ZONES:
        root = settings.zone_uri(zone)
        for spelling in (os.path.abspath(root), os.path.realpath(root)):
            folder = spelling.rstrip(os.sep) + os.sep
            if folder not in found:
                found.append(folder)
    return found


def spill_directory(settings: Settings) -> Path:
    return Path(settings.zone_uri(Zone.QUERY_RESULTS)) / ".duckdb-tmp"


class RealPaths:
    """:func:`os.path.realpath`, remembering each folder it has resolved.

    ``realpath`` checks every component of a path for a link: a table's partitions share all
    but their last folder, so one query planning 60 partitions would check the same dozen
    parents 60 times. Folders can change between queries: use one per plan, not for longer.
    """

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        norm = os.path.normpath(path)
        if not os.path.isabs(norm) or norm.startswith("//") or path.rstrip(os.sep) != norm:
            # '..', '.', '//' and relative paths: realpath's own rules (a '..' after a link
            # goes up from the link's target, not from the link).
            return os.path.realpath(path)
        return self._real(norm)

    def _real(self, path: str) -> str:
        found = self._known.get(path)
        if found is not None:
            return found
        parent, name = os.path.split(path)
        if not name:
            return path  # the root
        # The parent resolved, only this last component can still be a link.
        joined = os.path.join(self._real(parent), name)
        found = os.path.realpath(joined) if os.path.islink(joined) else joined
        self._known[path] = found
        return found


def is_inside(
    path: str, roots: Iterable[str], realpath: Callable[[str], str] = os.path.realpath
) -> bool:
    """Whether a file's real location is under one of ``roots`` (symlinks followed).

    ``realpath`` may be a :class:`RealPaths` shared by the checks of one plan.
    """
    real = realpath(path)
    return any(real.startswith(root) or real + os.sep == root for root in roots)


def sandboxed_connection(settings: Settings) -> Any:
    """A DuckDB connection that reads only the lake's folders, with its configuration locked.

    No extension is installed or loaded on demand (``read_csv('https://…')`` would otherwise
    fetch ``httpfs`` over the network). The caller may still create macros and run queries;
    no ``SET`` can undo the fence once ``lock_configuration`` is on.
    """
    import duckdb  # deferred: importing lakelib.query never starts DuckDB

    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        }
    )
    try:
        # GLOBAL: each query runs on a cursor, which takes the global settings but not the
        # connection's own (a plain SET left every query in the machine's local zone).
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        # Inside Jupyter without ipywidgets DuckDB refuses to touch the setting; the bar is
        # not drawn there anyway.
        with contextlib.suppress(duckdb.InvalidInputException):
            con.execute("SET enable_progress_bar = false")
        # DuckDB creates the folder when a query first spills.
        con.execute("SET temp_directory = ?", [str(spill_directory(settings))])
        folders = ", ".join("'" + d.replace("'", "''") + "'" for d in allowed_directories(settings))
        con.execute(f"SET allowed_directories = [{folders}]")
        con.execute("SET enable_external_access = false")
        # An unknown table name must never resolve to a DataFrame of the caller's frame.
        con.execute("SET python_enable_replacements = false")
        con.execute("SET allow_unsigned_extensions = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con
