"""The local engine checks and translates a query text once and reuses it: never stale.

What a user must not notice: a query run again after the catalog changed (a column's type,
a new table of the same name) answers from the catalog as it is now, and a query of many
table references runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lakelib.catalog import Column, crawl, open_catalog
from lakelib.config import Settings, load_settings
from lakelib.errors import QueryError
from lakelib.query import run_query


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(home=tmp_path / "lake", cwd=tmp_path, env={})
    folder = tmp_path / "lake" / "curated" / "scores"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("name,score\nann,1\nbob,2\n")
    crawl("curated", settings=settings)
    return settings


def test_twelve_table_references_in_one_query(settings: Settings) -> None:
    # Each reference is spliced in by a marker name; the 2nd's name used to be the start of
    # the 11th's, and the query failed with "internal error: a table reference was lost".
    sql = (
        " UNION ALL ".join(f"SELECT {n} AS k, count(*) AS n FROM scores" for n in range(12))
        + " ORDER BY k"
    )
    rows = run_query(sql, settings=settings).table.to_pylist()
    assert rows == [{"k": n, "n": 2} for n in range(12)]


def test_the_same_text_sees_a_column_type_changed_in_the_catalog(settings: Settings) -> None:
    sql = "SELECT count(*) AS n FROM scores WHERE name = 'ann'"
    assert run_query(sql, settings=settings).table.to_pylist() == [{"n": 1}]
    catalog = open_catalog(settings)
    table = catalog.get_table("scores")
    columns = tuple(
        dataclasses.replace(c, type="bigint") if c.name == "name" else c for c in table.columns
    )
    assert any(isinstance(c, Column) and c.type == "bigint" for c in columns)
    catalog.put_table(dataclasses.replace(table, columns=columns))
    # Now text is compared with a number: Athena refuses it, so must the second run.
    with pytest.raises(QueryError, match="Cannot apply operator: bigint = varchar"):
        run_query(sql, settings=settings)


def test_the_same_text_reads_a_table_moved_to_new_files(settings: Settings, tmp_path: Path) -> None:
    sql = "SELECT sum(score) AS total FROM scores"
    assert run_query(sql, settings=settings).table.to_pylist() == [{"total": 3}]
    moved = tmp_path / "lake" / "curated" / "scores_v2"
    moved.mkdir()
    (moved / "a.csv").write_text("name,score\ncy,40\n")
    catalog = open_catalog(settings)
    table = catalog.get_table("scores")
    catalog.put_table(dataclasses.replace(table, location=str(moved)))
    result = run_query(sql, settings=settings)
    assert result.table.to_pylist() == [{"total": 40}]
    assert str(moved) in result.record.translated_sql
