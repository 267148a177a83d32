"""Decimal columns divided as Trino divides them (https://trino.io/docs/current/functions/decimal.html).

A report that divides money columns must answer what Athena answers: the quotient of
decimal(p1, s1) and decimal(p2, s2) has scale max(s1, s2), rounded half up; sum of a
decimal(p, s) is a decimal(38, s). DuckDB answers a double (6.675 where Athena says 6.68); the
local engine used to refuse every division of a decimal column.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from lakelib.catalog import crawl, open_catalog
from lakelib.config import Settings, load_settings
from lakelib.errors import QueryError
from lakelib.query import run_query


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("decimals")
    settings = load_settings(home=root / "lake", cwd=root, env={})
    folder = root / "lake" / "curated" / "prices"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("item,price,qty\na,10.00,3\nb,3.35,4\n")
    crawl("curated", settings=settings)
    catalog = open_catalog(settings)
    table = catalog.get_table("prices")
    columns = tuple(
        dataclasses.replace(c, type="decimal(10,2)") if c.name == "price" else c
        for c in table.columns
    )
    catalog.put_table(dataclasses.replace(table, columns=columns))
    return settings


def test_decimal_column_quotients_have_trinos_scale(settings: Settings) -> None:
    rows = run_query(
        "SELECT item, price / 3 AS third, price / 0.7 AS by_dec, price / qty AS unit "
        "FROM prices ORDER BY item",
        settings=settings,
    ).table.to_pylist()
    # 10.00 / 3 = 3.333.. -> 3.33; 3.35 / 3 = 1.1166.. -> 1.12; 10.00 / 0.7 = 14.2857.. ->
    # 14.29; 3.35 / 0.7 = 4.7857.. -> 4.79; 10.00 / 3 (qty) -> 3.33; 3.35 / 4 = 0.8375 -> 0.84.
    assert rows == [
        {
            "item": "a",
            "third": Decimal("3.33"),
            "by_dec": Decimal("14.29"),
            "unit": Decimal("3.33"),
        },
        {"item": "b", "third": Decimal("1.12"), "by_dec": Decimal("4.79"), "unit": Decimal("0.84")},
    ]


def test_sum_of_a_decimal_column_divided_by_a_count(settings: Settings) -> None:
    # sum(price) is decimal(38, 2) = 13.35; / count(*) (bigint) keeps scale 2: 6.675 -> 6.68.
    result = run_query("SELECT sum(price) / count(*) AS mean FROM prices", settings=settings)
    assert result.table.to_pylist() == [{"mean": Decimal("6.68")}]
    csv = Path(result.output_location).read_text().splitlines()
    assert csv == ['"mean"', '"6.68"']


def test_avg_of_a_decimal_column_is_a_decimal(settings: Settings) -> None:
    # aggregate.html / DecimalAverageAggregation: avg of a decimal(p, s) is a decimal(p, s),
    # rounded half up: (10.00 + 3.35) / 2 = 6.675 -> 6.68 (DuckDB: the double 6.675); no rows
    # give NULL. Over a window it is still refused.
    result = run_query(
        "SELECT avg(price) AS mean, avg(price * 2) AS twice FROM prices", settings=settings
    )
    assert result.table.to_pylist() == [{"mean": Decimal("6.68"), "twice": Decimal("13.35")}]
    empty = run_query("SELECT avg(price) AS mean FROM prices WHERE price > 100", settings=settings)
    assert empty.table.to_pylist() == [{"mean": None}]
    grouped = run_query(
        "SELECT item, avg(price) AS mean FROM prices WHERE price > 5 GROUP BY item",
        settings=settings,
    )
    assert grouped.table.to_pylist() == [{"item": "a", "mean": Decimal("10.00")}]
    with pytest.raises(QueryError, match="function avg of a decimal is not supported"):
        run_query("SELECT avg(price) OVER () FROM prices", settings=settings)


def test_a_subquery_decimal_column_is_still_refused(settings: Settings) -> None:
    # A subquery's column is typed by sqlglot, not the catalog: not trusted to be exact.
    with pytest.raises(QueryError, match="division of a decimal column is not supported"):
        run_query("SELECT p / 2 FROM (SELECT price AS p FROM prices)", settings=settings)
