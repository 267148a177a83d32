"""The function table (``lakelib/query/trino_functions.toml``) is complete and enforced.

Every function name the Trino parser accepts is either ``exact`` (and then some conformance
case calls it) or ``refused`` (and then calling it gives the one-line refusal naming it).
Pure translation: no lake, no DuckDB.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lakelib.errors import QueryError
from lakelib.query import translate
from lakelib.query._functions import UNKNOWN, function_table, parser_names
from tests.conformance import test_trino_conformance as conformance

TABLE = function_table()


def test_every_parser_function_is_exact_or_refused() -> None:
    missing = sorted(parser_names() - TABLE.exact.keys() - TABLE.refused.keys())
    assert not missing, f"in neither [exact] nor [refused]: {missing}"
    assert not TABLE.exact.keys() & TABLE.refused.keys()
    assert all(reason.strip() for reason in TABLE.refused.values())


def _conformance_sql() -> str:
    texts = [sql for _, sql, _ in conformance.CASES]
    texts += [sql for _, sql, _ in getattr(conformance, "TYPED_CASES", [])]
    texts += list(getattr(conformance, "EXTRA_SQL", []))
    return "\n".join(texts).lower()


def test_every_exact_function_has_a_conformance_case() -> None:
    text = _conformance_sql()
    untested = [
        name for name in TABLE.exact if not re.search(rf"\b{re.escape(name)}\s*[(\[]", text)
    ]
    # Written without parentheses: CASE ... END, current_date, current_timestamp, localtimestamp.
    bare = {"case", "current_date", "current_timestamp", "localtimestamp"}
    untested = [n for n in untested if not (n in bare and re.search(rf"\b{n}\b", text))]
    assert not untested, f"exact but never called by a conformance case: {untested}"


def _refusal(name: str) -> str | None:
    """The error of the first call of ``name`` (0 to 4 arguments) that parses."""
    for args in ("", "1", "1, 2", "'a', 'b', 'c'", "1, 2, 3, 4"):
        try:
            translate(f"SELECT {name}({args})")
        except QueryError as exc:
            message = str(exc)
            if message.startswith("syntax error") or "expects" in message:
                continue
            return message
        else:
            return None
    return "no call of it parses"


@pytest.mark.parametrize("name", sorted(TABLE.refused))
def test_refused_function_is_refused_by_name(name: str) -> None:
    message = _refusal(name)
    assert message is not None, f"{name}() translated without a refusal"
    if message == "no call of it parses":
        return  # the parser rejects every form: Trino never reaches the function either
    reason = TABLE.refused[name]
    assert message == f"function {name} is not supported by the local engine: {reason}"
    assert "\n" not in message


@pytest.mark.parametrize("name", ["list_sort", "array_length", "strftime", "nvl", "trino_div"])
def test_duckdb_and_foreign_functions_are_refused_by_name(name: str) -> None:
    message = _refusal(name)
    assert message is not None and message.startswith(
        f"function {name} is not supported by the local engine: "
    ), message
    assert message.endswith(TABLE.refused.get(name, UNKNOWN))


def test_readme_states_the_count_of_exact_functions() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\((\d+) Trino functions answered exactly", readme)
    assert found and int(found.group(1)) == len(TABLE.exact)


def test_every_function_of_trinos_reference_is_in_the_table() -> None:
    listed = Path(__file__).with_name("trino_reference_functions.txt").read_text(encoding="utf-8")
    names = {line.strip() for line in listed.splitlines() if line and not line.startswith("#")}
    missing = sorted(names - TABLE.exact.keys() - TABLE.refused.keys())
    assert len(names) > 450 and not missing, missing
