"""Pure parts of the query stage: translation, placeholders, pruning filters, prices, CSV."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlglot import exp

from lakelib.cli._query import parameter_value
from lakelib.errors import QueryError
from lakelib.query import REWRITES, scan_cost_usd, translate
from lakelib.query._athena import athena_literal
from lakelib.query._prune import key_filter
from lakelib.query._results import render_csv, trino_text
from lakelib.query._trino import joda_to_strftime, parse_trino


def test_every_rewrite_documents_its_trino_rule() -> None:
    assert len(REWRITES) >= 30
    assert all(r.name and len(r.rule) > 5 for r in REWRITES)


@pytest.mark.parametrize(
    ("trino", "fragment"),
    [
        ("SELECT 7 / 2", "TRINO_DIV(7, 2)"),
        ("SELECT regexp_replace(s, '(a)', '$1-\\$')", "'\\1-$', 'g'"),
        ("SELECT date_diff('month', a, b) FROM t", "DATE_SUB('month', a, b)"),
        ("SELECT date_add('day', n, d) FROM t", "TRINO_PLUS_INTERVAL(d, INTERVAL (n) DAY)"),
        ("SELECT CAST(x AS integer) FROM t", "CAST(TRINO_CAST_ROUND(x, 'INT', FALSE) AS INT)"),
        (
            "SELECT TRY_CAST(x AS bigint) FROM t",
            "TRY_CAST(TRINO_CAST_ROUND(x, 'BIGINT', TRUE) AS BIGINT)",
        ),
        ("SELECT 1 / 3.0", "TRINO_DECIMAL_QUOTIENT("),
        ("SELECT every(x) FROM t", "BOOL_AND("),
        ("SELECT url_extract_host(u) FROM t", "TRINO_URL_EXTRACT_HOST(u)"),
    ],
)
def test_translation_applies_the_trino_fix(trino: str, fragment: str) -> None:
    assert fragment in translate(trino)


def test_placeholders_follow_text_order_and_skip_strings_and_comments() -> None:
    tree, count = parse_trino("SELECT '?' AS q, ? FROM t -- ?\nWHERE a = ? AND b IN (?)")
    assert count == 3
    assert [p.name for p in tree.find_all(exp.Placeholder)] == ["p1", "p2", "p3"]
    assert "$p1" in translate("SELECT ?")


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(QueryError, match=r"line 3, column 1 near 'GROUP BY': incomplete WHERE"):
        translate("SELECT a\nFROM t WHERE\nGROUP BY a")


def test_only_queries_are_accepted() -> None:
    with pytest.raises(QueryError, match="only queries"):
        translate("DROP TABLE sales_clean")


def test_joda_patterns() -> None:
    assert joda_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSS") == "%Y-%m-%dT%H:%M:%S.%g"
    with pytest.raises(QueryError, match="'G'"):
        joda_to_strftime("G yyyy")


def _where(sql: str) -> exp.Expression | None:
    tree, _ = parse_trino(sql)
    return tree.args.get("where")


def _keys(column: exp.Column) -> str | None:
    return column.name if column.name in {"year", "month", "day"} else None


def test_key_filter_shapes() -> None:
    f = key_filter(
        _where(
            "SELECT * FROM t WHERE year = '2024' AND month IN ('01', '02') "
            "AND day BETWEEN '05' AND '09' AND amount > 3 AND '2024' <= year"
        ),
        _keys,
    )
    assert f({"year": "2024", "month": "02", "day": "07"})
    assert not f({"year": "2024", "month": "03", "day": "07"})
    assert not f({"year": "2024", "month": "01", "day": "10"})
    assert len(f.describe()) == 4  # the amount predicate is not about partitions


def test_key_filter_ignores_or_and_binds_parameters() -> None:
    assert not key_filter(_where("SELECT * FROM t WHERE day = '01' OR day = '02'"), _keys)
    f = key_filter(_where("SELECT * FROM t WHERE day = ?"), _keys, ["03"])
    assert f({"day": "03"}) and not f({"day": "04"})
    with pytest.raises(QueryError, match="string parameter"):
        key_filter(_where("SELECT * FROM t WHERE day = ?"), _keys, [3])
    with pytest.raises(QueryError, match="varchar = integer"):
        key_filter(_where("SELECT * FROM t WHERE month = 1"), _keys)


def test_athena_price() -> None:
    assert scan_cost_usd(0) == 0.0
    assert scan_cost_usd(1) == pytest.approx(10 * 10**6 / 10**12 * 5)  # 10 MB minimum
    assert scan_cost_usd(25_000_001) == pytest.approx(26 * 10**6 / 10**12 * 5)
    assert scan_cost_usd(10**12) == pytest.approx(5.0)


def test_athena_style_csv() -> None:
    table = pa.table(
        {
            "a": [1, None],
            "tags": pa.array([["x", "y"], None], pa.list_(pa.string())),
            "m": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
        }
    )
    lines = render_csv(table, quote_all=True).decode().splitlines()
    assert lines == ['"a","tags","m"', '"1","[x, y]","{k=1}"', ",,"]
    assert render_csv(table, quote_all=False).decode().splitlines()[1] == '1,"[x, y]",{k=1}'
    assert trino_text(True) == "true"


def test_parameter_literals() -> None:
    assert parameter_value("'it''s'") == "it's"
    assert parameter_value("5") == 5
    assert parameter_value("1.50") == Decimal("1.50")
    assert parameter_value("DATE '2024-01-02'") == dt.date(2024, 1, 2)
    assert parameter_value("NULL") is None
    assert athena_literal("it's") == "'it''s'"
    assert athena_literal(dt.datetime(2024, 1, 2, 3)) == "TIMESTAMP '2024-01-02 03:00:00'"


def test_doubles_render_as_javas_double_to_string() -> None:
    # Java's Double.toString (what Trino's client prints): plain in [1e-3, 1e7) with a
    # fraction digit, otherwise d.dddE<n>; two digits when one would do (Double.MIN_VALUE).
    from lakelib.query._results import java_double_text

    cases = {
        100.0: "100.0",
        0.001: "0.001",
        9.9e-4: "9.9E-4",
        1e7: "1.0E7",
        -1234567.5: "-1234567.5",
        1e21: "1.0E21",
        -0.0: "-0.0",
        float("nan"): "NaN",
        float("-inf"): "-Infinity",
        5e-324: "4.9E-324",
    }
    assert {v: java_double_text(v) for v in cases} == cases
    table = pa.table({"r": pa.array([0.1, 1e10], pa.float32()), "d": [None, 3.0]})
    assert render_csv(table, quote_all=True).decode().splitlines()[1:] == [
        '"0.1",',
        '"1.0E10","3.0"',
    ]
