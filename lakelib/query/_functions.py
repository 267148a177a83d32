"""The local engine's function table: every Trino function is exact or refused by name.

``trino_functions.toml`` (beside this module) lists each function name the Trino parser
accepts, plus every name in Trino's function reference, in one of two tables:

- ``[exact]``: the local engine answers as Trino does (same value, NULL handling, element
  order, error versus NULL, result type); each has a conformance test in
  ``tests/conformance`` whose expectation comes from Trino's documentation.
- ``[refused]``: the local engine refuses the call by name with the reason given.

A call of a name in neither table is refused too (a DuckDB-only function, a typo): an
allowlist, so a function whose meaning was never checked can never answer silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlglot import exp
from sqlglot.dialects.trino import Trino

from lakelib.errors import QueryError

__all__ = ["FUNCTION_TABLE", "FunctionTable", "LakeTrino", "check_calls", "function_table"]

FUNCTION_TABLE = Path(__file__).with_name("trino_functions.toml")

# The meta key under which the parser records the name a call was written with.
NAME_KEY = "lake_function"

UNKNOWN = (
    "it is not in the local engine's function table (not a Trino function, or one whose "
    "meaning is not checked against Trino's)"
)


@dataclass(frozen=True)
class FunctionTable:
    """Function name (lower case) -> category of an exact one, or reason of a refused one."""

    exact: dict[str, str]
    refused: dict[str, str]


@cache
def function_table() -> FunctionTable:
    """The parsed ``trino_functions.toml``."""
    data = tomllib.loads(FUNCTION_TABLE.read_text(encoding="utf-8"))
    return FunctionTable(exact=dict(data["exact"]), refused=dict(data["refused"]))


_WRAPPERS = (exp.Window, exp.Filter, exp.IgnoreNulls, exp.RespectNulls, exp.WithinGroup)


class LakeTrino(Trino):
    """Trino's dialect whose parser records, on each call, the function name as written.

    sqlglot turns ``substr(...)`` and ``substring(...)`` into the same node; the function
    table is about the names users write, so the name is kept in the node's ``meta``.
    """

    class Parser(Trino.Parser):  # type: ignore[misc,valid-type]  # sqlglot's parser base is dynamic
        def _parse_function_call(
            self,
            functions: dict[str, Any] | None = None,
            anonymous: bool = False,
            optional_parens: bool = True,
            any_token: bool = False,
        ) -> exp.Expr | None:
            token = self._curr
            result: exp.Expr | None = super()._parse_function_call(
                functions, anonymous, optional_parens, any_token
            )
            node = result
            # A call followed by OVER / FILTER / IGNORE NULLS comes back wrapped.
            while isinstance(node, _WRAPPERS):
                node = node.this
            if isinstance(node, exp.Expr) and token is not None and NAME_KEY not in node.meta:
                # Any node, not only functions: mod(a, b) parses as the operator a % b.
                node.meta[NAME_KEY] = token.text.lower()
            return result


def parser_names() -> set[str]:
    """Every function name the (Trino) parser knows as a function of its own."""
    parser = LakeTrino.Parser
    names = {n.lower() for n in parser.FUNCTIONS}
    names |= {n.lower() for n in parser.FUNCTION_PARSERS}
    names |= {n.lower() for n in parser.NO_PAREN_FUNCTION_PARSERS}
    names |= {t.name.lower() for t in parser.NO_PAREN_FUNCTIONS}
    return names


def called_names(tree: exp.Expression) -> list[str]:
    """The function names the query calls, as written, in tree order."""
    return [n.meta[NAME_KEY] for n in tree.walk() if NAME_KEY in n.meta]


def check_calls(tree: exp.Expression) -> None:
    """Refuse, by name, the first call of a function that is not in ``[exact]``."""
    table = function_table()
    for name in called_names(tree):
        if name in table.exact:
            continue
        reason = table.refused.get(name, UNKNOWN)
        raise QueryError(f"function {name} is not supported by the local engine: {reason}")
