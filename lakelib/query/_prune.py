"""Partition pruning: simple predicates on partition keys, read from the Trino AST.

Only conjuncts of a ``WHERE`` that sits directly over the table are used, and only these
shapes (``k`` a partition key of that table, values string literals or ``?`` parameters):
``k = 'v'``, ``'v' = k``, ``k IN ('a', 'b')``, ``k BETWEEN 'a' AND 'b'``, ``k < > <= >= 'v'``.
They are all null-rejecting, so pruning is exact even on the outer side of a join.
Partition keys are strings (as Glue types them): comparisons are string comparisons, and a
number compared with a key is refused the way Athena refuses it (``varchar = integer``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlglot import exp

from lakelib.errors import QueryError

_COMPARE: dict[type[exp.Expression], Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}
_SYMBOL: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}
_FLIP: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.EQ: exp.EQ,
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
}


@dataclass
class KeyFilter:
    """What the query says about one table's partition keys (all must hold)."""

    conditions: list[tuple[str, Callable[[str], bool], str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def __call__(self, values: Mapping[str, str]) -> bool:
        return all(test(values.get(key, "")) for key, test, _ in self.conditions)

    def describe(self) -> list[str]:
        return [text for _, _, text in self.conditions]


def conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    if where is None:
        return []
    node = where.this if isinstance(where, exp.Where) else where
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]


def _value(node: exp.Expression, params: Sequence[Any], key: str) -> str | None:
    """A literal's (or bound parameter's) value as a partition value; None if not constant."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Placeholder):
        name = node.name
        if not name.startswith("p") or not name[1:].isdigit():
            return None
        index = int(name[1:]) - 1
        if index >= len(params):
            return None
        value = params[index]
        if not isinstance(value, str):
            raise QueryError(
                f"partition key {key} is a string: bind a string parameter for it, not "
                f"{type(value).__name__} {value!r}"
            )
        return value
    if isinstance(node, exp.Literal):
        if not node.is_string:
            raise QueryError(
                f"Cannot apply operator: varchar = integer: partition key {key} is a string; "
                f"write {key} = '{node.name}'"
            )
        return node.name
    return None


def _compare(op: Callable[[Any, Any], bool], value: str, have: str) -> bool:
    return op(have, value)


def _between(low: str, high: str, have: str) -> bool:
    return low <= have <= high


def key_filter(
    where: exp.Expression | None,
    is_key: Callable[[exp.Column], str | None],
    params: Sequence[Any] = (),
) -> KeyFilter:
    """Build the filter from a WHERE; ``is_key`` maps a column to its key name or None."""
    found = KeyFilter()
    for cond in conjuncts(where):
        if isinstance(cond, tuple(_COMPARE)):
            kind, left, right = type(cond), cond.this, cond.expression
            if not isinstance(left, exp.Column) and isinstance(right, exp.Column):
                kind, left, right = _FLIP[kind], right, left
            if not isinstance(left, exp.Column) or (key := is_key(left)) is None:
                continue
            value = _value(right, params, key)
            if value is None:
                continue
            found.conditions.append(
                (key, partial(_compare, _COMPARE[kind], value), f"{key} {_SYMBOL[kind]} {value!r}")
            )
        elif isinstance(cond, exp.In) and not cond.args.get("query"):
            if not isinstance(cond.this, exp.Column) or (key := is_key(cond.this)) is None:
                continue
            values = [_value(v, params, key) for v in cond.expressions]
            if any(v is None for v in values):
                continue
            allowed = frozenset(v for v in values if v is not None)
            found.conditions.append((key, allowed.__contains__, f"{key} in {sorted(allowed)}"))
        elif isinstance(cond, exp.Between):
            if not isinstance(cond.this, exp.Column) or (key := is_key(cond.this)) is None:
                continue
            low = _value(cond.args["low"], params, key)
            high = _value(cond.args["high"], params, key)
            if low is None or high is None:
                continue
            found.conditions.append(
                (
                    key,
                    partial(_between, low, high),
                    f"{key} between {low!r} and {high!r}",
                )
            )
    return found
