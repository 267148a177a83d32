"""The local engine checks and translates a query text once and reuses it: never stale.

What a user must not notice: a query run again after the catalog changed (a column's type,
a table's location) answers from the catalog as it is now; a query of many table
references runs; each query runs in UTC whatever the machine's zone.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from decimal import Decimal
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


def test_avg_of_a_column_that_became_a_decimal_is_a_decimal_on_the_next_run(
    settings: Settings,
) -> None:
    # avg of a table's integer column needs no per-row decimal check; once the catalog says
    # decimal, Trino's avg is a decimal of the column's type, and the same text must answer
    # that, not a double from the old translation.
    sql = "SELECT avg(score) AS a FROM scores"
    first = run_query(sql, settings=settings)
    assert first.table.to_pylist() == [{"a": 1.5}]
    assert "trino_not_decimal" not in first.record.translated_sql.lower()
    # Through a CTE the argument is the CTE's expression (bigint * 1.5 is a decimal in
    # Trino, a double to sqlglot): still checked per row, and refused.
    cte = "WITH t AS (SELECT score * 1.5 AS y FROM scores) SELECT avg(y) FROM t"
    with pytest.raises(QueryError, match="function avg of a decimal is not supported"):
        run_query(cte, settings=settings)
    catalog = open_catalog(settings)
    table = catalog.get_table("scores")
    columns = tuple(
        dataclasses.replace(c, type="decimal(10,2)") if c.name == "score" else c
        for c in table.columns
    )
    catalog.put_table(dataclasses.replace(table, columns=columns))
    assert run_query(sql, settings=settings).table.to_pylist() == [{"a": Decimal("1.50")}]


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


_IN_NEW_YORK = """
import sys
from pathlib import Path
from lakelib.config import load_settings
from lakelib.query import run_query
home = Path(sys.argv[1])
settings = load_settings(home=home, cwd=home.parent, env={})
result = run_query("SELECT hour(from_unixtime(0)) AS h, from_unixtime(0) AS t", settings=settings)
print(result.table.column("h").to_pylist()[0])
print(Path(result.output_location.removeprefix("file://")).read_text().splitlines()[1])
"""


def test_queries_run_in_utc_on_a_machine_in_another_zone(tmp_path: Path) -> None:
    # Athena's session zone is UTC. Each query runs on a cursor of the engine's connection,
    # which did not inherit the connection's own SET TimeZone: in New York, 19 and 19:00.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}
    env["TZ"] = "America/New_York"
    done = subprocess.run(
        [sys.executable, "-c", _IN_NEW_YORK, str(tmp_path / "lake")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    hour, row = done.stdout.strip().splitlines()[-2:]
    assert hour == "0"
    assert row == '"0","1970-01-01 00:00:00.000 UTC"'
