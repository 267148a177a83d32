"""Trino's types for numbers the translator can see: literals, casts and arithmetic on them.

Trino types ``3.0`` as ``DECIMAL(2, 1)`` and gives each decimal operator a result type of
its own (https://trino.io/docs/current/functions/decimal.html): for ``x / y`` the scale is
``max(xs, ys)``, rounded half up, so ``1 / 3.0`` is ``0.3``; DuckDB answers a double
(``0.3333333333333333``). Where both operands' types are known from the query text the
translator emits Trino's exact decimal quotient; where a decimal's type is only known when
the query runs (a column), the ``trino_div`` macro refuses by name rather than answer
differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from sqlglot import exp
from sqlglot.errors import SqlglotError

from lakelib.errors import QueryError

__all__ = [
    "AVG_KEY",
    "DIV_KEY",
    "OPERANDS_KEY",
    "TYPE_KEY",
    "Facts",
    "Num",
    "annotate",
    "apply_facts",
    "check_operand_kinds",
    "check_types",
    "decimal_literal",
    "kind_of_type",
    "static_type",
]

TYPE_KEY = "lake_type"
OPERANDS_KEY = "lake_operands"

_INT_PRECISION = {
    exp.DataType.Type.TINYINT: 3,
    exp.DataType.Type.SMALLINT: 5,
    exp.DataType.Type.INT: 10,
    exp.DataType.Type.BIGINT: 19,
}
_DOUBLE = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}
_DECIMAL_TEXT = re.compile(r"^\s*[+-]?(\d*)(?:\.(\d*))?\s*$")


@dataclass(frozen=True)
class Num:
    """A numeric type: ``kind`` is ``decimal``, ``integer`` (precision 3/5/10/19) or ``double``."""

    kind: str
    precision: int = 0
    scale: int = 0


DOUBLE = Num("double")


def decimal_literal(text: str) -> Num | None:
    """Trino's type of a decimal literal's text: digits (without leading zeros) and fraction."""
    match = _DECIMAL_TEXT.match(text)
    if not match or not (match.group(1) or match.group(2)):
        return None
    whole, fraction = match.group(1).lstrip("0"), match.group(2) or ""
    scale = len(fraction)
    return Num("decimal", max(1, len(whole) + scale), scale)


def _cast_type(to: exp.DataType, value: exp.Expression) -> Num | None:
    if to.this in _INT_PRECISION:
        return Num("integer", _INT_PRECISION[to.this])
    if to.this in _DOUBLE:
        return DOUBLE
    if to.this == exp.DataType.Type.DECIMAL:
        params = [p.this for p in to.expressions]
        if not params:
            if isinstance(value, exp.Literal) and value.is_string:
                return decimal_literal(value.name)  # DECIMAL '1.50' is DECIMAL(3, 2)
            return Num("decimal", 38, 0)
        try:
            numbers = [int(p.name) for p in params]
        except (AttributeError, ValueError):
            return None
        return Num("decimal", numbers[0], numbers[1] if len(numbers) > 1 else 0)
    return None


def _as_decimal(t: Num) -> Num:
    return Num("decimal", t.precision, 0) if t.kind == "integer" else t


def _arithmetic(node: exp.Expression, a: Num, b: Num) -> Num | None:
    if DOUBLE in (a, b):
        return DOUBLE
    if a.kind == b.kind == "integer":
        return Num("integer", max(a.precision, b.precision))
    x, y = _as_decimal(a), _as_decimal(b)
    xp, xs, yp, ys = x.precision, x.scale, y.precision, y.scale
    if isinstance(node, exp.Add | exp.Sub):
        return Num("decimal", min(38, 1 + max(xs, ys) + max(xp - xs, yp - ys)), max(xs, ys))
    if isinstance(node, exp.Mul):
        return Num("decimal", min(38, xp + yp), xs + ys)
    if isinstance(node, exp.Div):
        return Num("decimal", min(38, xp + ys + max(0, ys - xs)), max(xs, ys))
    if isinstance(node, exp.Mod):
        return Num("decimal", min(xp - xs, yp - ys) + max(xs, ys), max(xs, ys))
    return None


def static_type(node: exp.Expression) -> Num | None:
    """Trino's type of a numeric expression, when the query text alone decides it."""
    if TYPE_KEY in node.meta:
        found: Num | None = node.meta[TYPE_KEY]
        return found
    result: Num | None = None
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.name
        if "e" in text.lower():
            result = DOUBLE
        elif "." in text:
            result = decimal_literal(text)
        else:
            result = Num("integer", 10 if abs(int(text)) <= 2**31 - 1 else 19)
    elif isinstance(node, exp.Paren | exp.Neg):
        result = static_type(node.this)
    elif isinstance(node, exp.Cast):
        result = _cast_type(node.to, node.this)
    elif isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
        a, b = static_type(node.this), static_type(node.expression)
        if a is not None and b is not None:
            result = _arithmetic(node, a, b)
    return result


def annotate(tree: exp.Expression) -> None:
    """Record each node's static type in its ``meta`` before the rewrites replace nodes."""
    nodes: list[exp.Expression] = [cast(exp.Expression, n) for n in tree.walk(bfs=False)]
    for node in reversed(nodes):
        node.meta[TYPE_KEY] = static_type(node)
        if isinstance(node, exp.Div) and OPERANDS_KEY not in node.meta:
            # (Operand types the catalog decided, apply_facts, are kept.)
            node.meta[OPERANDS_KEY] = (static_type(node.this), static_type(node.expression))


# -- operand kinds in comparisons, IN, BETWEEN, COALESCE and CASE --------------------------
# Trino never converts between text and numbers, dates, timestamps or booleans
# (https://trino.io/docs/current/functions/conversion.html): ``amount = '10'`` and
# ``sold_at > '2024-01-01'`` fail on Athena ("Cannot apply operator"), where DuckDB casts the
# text and answers. Kinds come from literals and from catalog columns; unknown is unknown.

_KIND_OF_TYPE = (
    (re.compile(r"^(string|varchar|char)"), "varchar"),
    (re.compile(r"^(tinyint|smallint|int|integer|bigint|float|double|real|decimal)"), "number"),
    (re.compile(r"^date$"), "date"),
    (re.compile(r"^timestamp"), "timestamp"),
    (re.compile(r"^boolean$"), "boolean"),
)
_CAST_KINDS = {
    exp.DataType.Type.DATE: "date",
    exp.DataType.Type.TIMESTAMP: "timestamp",
    exp.DataType.Type.BOOLEAN: "boolean",
    exp.DataType.Type.VARCHAR: "varchar",
    exp.DataType.Type.TEXT: "varchar",
    exp.DataType.Type.CHAR: "varchar",
}
# Kinds Trino compares with each other (a date is widened to a timestamp).
_FAMILY = {
    "number": "number",
    "varchar": "varchar",
    "date": "time",
    "timestamp": "time",
    "boolean": "boolean",
}


def kind_of_type(glue_type: str) -> tuple[str, str] | None:
    """The comparison kind and Trino type name of a catalog (Glue/Hive) column type."""
    text = glue_type.lower()
    for pattern, kind in _KIND_OF_TYPE:
        if pattern.match(text):
            return kind, "varchar" if kind == "varchar" else text
    return None


Kind = tuple[str, str]  # (kind, Trino type name for the message)


def _kind(node: exp.Expression, column_kind: Callable[[exp.Column], Kind | None]) -> Kind | None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "varchar", "varchar"
        t = static_type(node)
        return "number", "double" if t == DOUBLE else ("decimal" if "." in node.name else "integer")
    if isinstance(node, exp.Boolean):
        return "boolean", "boolean"
    if isinstance(node, exp.Neg):
        return _kind(node.this, column_kind)
    if isinstance(node, exp.Cast):
        name = node.to.this.value.lower()
        if node.to.this in _CAST_KINDS:
            return _CAST_KINDS[node.to.this], name
        return ("number", name) if _cast_type(node.to, node.this) is not None else None
    if isinstance(node, exp.Column):
        return column_kind(node)
    return None


def _mismatch(kinds: list[Kind | None]) -> tuple[str, str] | None:
    known = [k for k in kinds if k is not None]
    for other in known[1:]:
        if _FAMILY[other[0]] != _FAMILY[known[0][0]]:
            return known[0][1], other[1]
    return None


_SYMBOLS = {"EQ": "=", "NEQ": "<>", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}


def check_operand_kinds(
    tree: exp.Expression, column_kind: Callable[[exp.Column], Kind | None]
) -> None:
    """Refuse, as Athena does, an operation mixing text with numbers, dates or booleans."""
    for node in tree.walk():
        groups: list[tuple[str, list[exp.Expression]]] = []
        if isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
            groups.append((_SYMBOLS[node.key.upper()], [node.this, node.expression]))
        elif isinstance(node, exp.NullSafeEQ | exp.NullSafeNEQ):
            groups.append(("IS DISTINCT FROM", [node.this, node.expression]))
        elif isinstance(node, exp.In) and node.expressions:
            groups.append(("IN", [node.this, *node.expressions]))
        elif isinstance(node, exp.Between):
            groups.append(("BETWEEN", [node.this, node.args["low"], node.args["high"]]))
        elif isinstance(node, exp.Coalesce):
            groups.append(("COALESCE", [node.this, *node.expressions]))
        elif isinstance(node, exp.Case):
            results = [i.args.get("true") for i in node.args.get("ifs") or []]
            results.append(node.args.get("default"))
            groups.append(("CASE", [r for r in results if r is not None]))
        if isinstance(node, exp.DPipe | exp.Concat):
            _check_concat(node, lambda o: _kind(o, column_kind))
        for what, operands in groups:
            bad = _mismatch([_kind(o, column_kind) for o in operands])
            if bad:
                shown = (
                    f"{bad[0]} {what} {bad[1]}"
                    if what in _SYMBOLS.values()
                    else (f"{what} of {bad[0]} and {bad[1]}")
                )
                raise QueryError(
                    f"Cannot apply operator: {shown}: Athena does not convert between text and "
                    "other types (write DATE '...', a number, or CAST); the local engine "
                    "refuses it as Athena does"
                )


def _check_concat(
    node: exp.DPipe | exp.Concat, kind_of: Callable[[exp.Expression], Kind | None]
) -> None:
    """``||`` and ``concat`` take text (or arrays) only: Trino does not turn a number, date or
    boolean into text for them (https://trino.io/docs/current/functions/string.html,
    conversion.html), where DuckDB casts it and answers ``1 || 'a'`` = ``'1a'``."""
    operands = [node.this, node.expression] if isinstance(node, exp.DPipe) else node.expressions
    kinds = [kind_of(o) for o in operands]
    # An operand of unknown kind may be an array (``ARRAY[1] || 2`` is Trino's array append).
    if any(k is None for k in kinds) or all(k[0] == "varchar" for k in kinds if k):
        return
    shown = [k[1] for k in kinds if k]
    if isinstance(node, exp.DPipe):
        raise QueryError(
            f"Cannot apply operator: {shown[0]} || {shown[1]}: Athena does not convert other types "
            "to text for || (use CAST(x AS varchar)); the local engine refuses it as Athena does"
        )
    raise QueryError(
        f"Unexpected parameters ({', '.join(shown)}) for function concat: Athena does not "
        "convert other types to text (use CAST(x AS varchar)); the local engine refuses it as "
        "Athena does"
    )


# -- operand kinds everywhere: typed by sqlglot's optimizer over the catalog's schema --------
# The literal-and-column check above sees only catalog columns read directly. Typing the
# whole tree (sqlglot's qualify + annotate_types, the catalog's columns as the schema) also
# follows a column through CTEs, subqueries, joins, UNNEST, window functions and function
# results: ``WITH t AS (SELECT amount * 2 AS a FROM sales) SELECT * FROM t WHERE a = '10'``
# is refused as Athena refuses it, where DuckDB cast the text and answered.

_TEMPORAL = {
    exp.DataType.Type.DATE: "date",
    exp.DataType.Type.DATE32: "date",
    exp.DataType.Type.TIMESTAMP: "timestamp",
    exp.DataType.Type.TIMESTAMPTZ: "timestamp",
    exp.DataType.Type.TIMESTAMPLTZ: "timestamp",
    exp.DataType.Type.TIMESTAMPNTZ: "timestamp",
    exp.DataType.Type.DATETIME: "timestamp",
}
_ARITHMETIC: dict[type[exp.Expression], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
}
Schema = dict[str, dict[str, str]]  # table name (lower case) -> column -> Glue type


def _typed_kind(node: exp.Expression) -> Kind | None:
    """The comparison kind of a node of the annotated tree (None: unknown or other)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal | exp.Boolean | exp.Cast | exp.Neg):
        found = _kind(node, lambda column: None)
        if found is not None:
            return found
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Any | exp.All):
        return _subquery_kind(node.this)  # x = ANY (SELECT ...): the subquery's column
    t = node.type
    if t is None:
        return None
    name = t.sql("trino").lower()
    if t.this in exp.DataType.TEXT_TYPES:
        return "varchar", "varchar"
    if t.this in exp.DataType.NUMERIC_TYPES:
        return "number", name
    if t.this in _TEMPORAL:
        return _TEMPORAL[t.this], name
    if t.this == exp.DataType.Type.BOOLEAN:
        return "boolean", "boolean"
    return None


def _refuse_mixed(what: str, kinds: list[Kind | None]) -> None:
    bad = _mismatch(kinds)
    if bad:
        shown = (
            f"{bad[0]} {what} {bad[1]}"
            if what in _SYMBOLS.values() or what in _ARITHMETIC.values()
            else f"{what} of {bad[0]} and {bad[1]}"
        )
        raise QueryError(
            f"Cannot apply operator: {shown}: Athena does not convert between text and "
            "other types (write DATE '...', a number, or CAST); the local engine "
            "refuses it as Athena does"
        )


def _subquery_kind(query: exp.Expression | None) -> Kind | None:
    while isinstance(query, exp.Subquery):
        query = query.this
    if isinstance(query, exp.Query) and len(query.selects) == 1:
        return _typed_kind(query.selects[0])
    return None


def _annotated(tree: exp.Expression, schema: Schema, database: str) -> exp.Expression | None:
    """A typed copy of the tree, or None where sqlglot's optimizer cannot type it."""
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.schema import MappingSchema

    try:
        mapping = MappingSchema(
            {"awsdatacatalog": {database: schema}} if schema else None, dialect="hive"
        )
        copy = tree.copy()
        # Number the avg calls and divisions (in the original's order) to find them again
        # once typed.
        for n, call in enumerate(copy.find_all(exp.Avg)):
            call.meta[AVG_KEY] = n
        for n, division in enumerate(copy.find_all(exp.Div)):
            division.meta[DIV_KEY] = n
        qualified = qualify(
            copy,
            schema=mapping,
            catalog="awsdatacatalog",
            db=database,
            dialect="trino",
            validate_qualify_columns=False,
            identify=False,
        )
        return annotate_types(qualified, schema=mapping, dialect="trino")
    except (SqlglotError, KeyError, ValueError, TypeError, AttributeError):
        return None


AVG_KEY = "lake_avg"
DIV_KEY = "lake_div"


@dataclass(frozen=True)
class Facts:
    """What typing the query over the catalog's schema decides about its translation.

    ``plain_avgs``: the avg calls (numbered in ``find_all(exp.Avg)`` order) whose argument
    is a table's integer or double column. ``divisions``: (number in ``find_all(exp.Div)``
    order, dividend type, divisor type) for each division whose operands' Trino types are
    known, so a decimal column's quotient gets Trino's scale instead of a refusal.
    """

    plain_avgs: frozenset[int] = frozenset()
    divisions: tuple[tuple[int, Num, Num], ...] = ()
    # Result columns (position) that are timestamp(0): printed without fraction digits.
    whole_seconds: frozenset[int] = frozenset()
    # avg calls (number, argument type) over a decimal whose type is certain: exact average.
    decimal_avgs: tuple[tuple[int, Num], ...] = ()


def apply_facts(tree: exp.Expression, facts: Facts) -> None:
    """Mark a fresh copy of the checked tree with :class:`Facts` before it is rewritten."""
    decimal_avgs = dict(facts.decimal_avgs)
    for number, call in enumerate(tree.find_all(exp.Avg)):
        if number in facts.plain_avgs:
            call.meta[AVG_KEY] = "plain"  # an integer or double column: no decimal check
        elif number in decimal_avgs:
            call.meta[AVG_KEY] = decimal_avgs[number]  # Trino's decimal average of this type
    select = tree
    if facts.whole_seconds and isinstance(select, exp.Select):
        for position, item in enumerate(select.expressions):
            if position in facts.whole_seconds:
                inner = item.this if isinstance(item, exp.Alias) else item
                inner.replace(
                    exp.Cast(
                        this=inner.copy(), to=exp.DataType.build("TIMESTAMP_S", dialect="duckdb")
                    )
                )
    known = {number: (a, b) for number, a, b in facts.divisions}
    for number, division in enumerate(tree.find_all(exp.Div)):
        if number in known:
            a, b = known[number]
            division.meta[OPERANDS_KEY] = (a, b)
            division.meta[TYPE_KEY] = _arithmetic(division, a, b)


def _column_num(column: exp.Column) -> Num | None:
    t = column.type
    if t is None:
        return None
    if t.this == exp.DataType.Type.DECIMAL:
        params = [int(p.this.name) for p in t.expressions] if t.expressions else [38, 0]
        return Num("decimal", params[0], params[1] if len(params) > 1 else 0)
    if t.this in _INT_PRECISION:
        return Num("integer", _INT_PRECISION[t.this])
    if t.this in _DOUBLE:
        return DOUBLE
    return None


def _trusted_num(node: exp.Expression, sources: Mapping[str, object]) -> Num | None:
    """Trino's numeric type of an operand, where it is certain: literals, casts, a table's
    columns (the catalog's types), sum and count of those, and Trino's arithmetic on them.
    A CTE's or subquery's column is not trusted (sqlglot may type a decimal as a double)."""
    if isinstance(node, exp.Paren | exp.Neg):
        return _trusted_num(node.this, sources)
    if isinstance(node, exp.Literal | exp.Cast):
        return static_type(node)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
        a, b = _trusted_num(node.this, sources), _trusted_num(node.expression, sources)
        return _arithmetic(node, a, b) if a is not None and b is not None else None
    if isinstance(node, exp.Column):
        return _column_num(node) if isinstance(sources.get(node.table), exp.Table) else None
    if isinstance(node, exp.Count):
        return Num("integer", 19)
    if isinstance(node, exp.Sum):
        # aggregate.html: sum of decimal(p, s) is decimal(38, s); of integers bigint.
        t = _trusted_num(node.this, sources)
        if t is None:
            return None
        if t.kind == "decimal":
            return Num("decimal", 38, t.scale)
        return Num("integer", 19) if t.kind == "integer" else DOUBLE
    return None


_NOT_DECIMAL = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DOUBLE,
}


def _facts(typed: exp.Expression) -> Facts:
    """The avg calls whose argument is a table's integer or double column (their result is a
    double in both engines, so no decimal check is needed), and the divisions whose operand
    types are certain (:func:`_trusted_num`).

    Only a column read straight from a catalog table counts: a CTE's or subquery's column
    may be a decimal expression sqlglot types as a double (``qty * 1.5``).
    """
    from sqlglot.optimizer.scope import traverse_scope

    seen: set[int] = set()
    plain: set[int] = set()
    divided: set[int] = set()
    divisions: list[tuple[int, Num, Num]] = []
    decimal_avgs: list[tuple[int, Num]] = []
    for scope in traverse_scope(typed):  # innermost first: a node belongs to the first
        for division in scope.expression.find_all(exp.Div):
            number = division.meta.get(DIV_KEY)
            if number is None or number in divided:
                continue
            divided.add(number)
            a = _trusted_num(division.this, scope.sources)
            b = _trusted_num(division.expression, scope.sources)
            if a is not None and b is not None:
                divisions.append((number, a, b))
        for call in scope.expression.find_all(exp.Avg):
            number = call.meta.get(AVG_KEY)
            if number is None or number in seen:
                continue
            seen.add(number)
            arg = call.this
            t = _trusted_num(arg, scope.sources)
            if t is not None and t.kind == "decimal":
                decimal_avgs.append((number, t))
            elif (
                isinstance(arg, exp.Column)
                and isinstance(scope.sources.get(arg.table), exp.Table)
                and arg.type is not None
                and arg.type.this in _NOT_DECIMAL
            ):
                plain.add(number)
    return Facts(frozenset(plain), tuple(divisions), _whole_seconds(typed), tuple(decimal_avgs))


def _literal_precision(node: exp.Expression) -> int | None:
    """The fraction digits Trino gives a timestamp expression: a literal's own (TIMESTAMP
    '... 03:04:05' is timestamp(0)), 3 for anything built without other-precision literals
    (columns, casts, now()); None when literals of another precision are mixed in."""
    while isinstance(node, exp.Paren | exp.Alias):
        node = node.this
    literals = [
        c
        for c in node.find_all(exp.Cast)
        if c.to.this == exp.DataType.Type.TIMESTAMP and c.to.expressions
    ]
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.TIMESTAMP:
        # A literal's own precision; CAST(x AS timestamp) is timestamp(3).
        return int(node.to.expressions[0].this.name) if node.to.expressions else 3
    if not literals:
        return 3
    digits = {int(c.to.expressions[0].this.name) for c in literals}
    if digits == {3}:
        return 3
    if len(digits) == 1 and not any(
        isinstance(n, exp.Column | exp.Cast) and n not in literals
        for n in node.find_all(exp.Column, exp.Cast)
    ):
        return digits.pop()  # date_add('day', 1, TIMESTAMP '... 00:00:00') keeps timestamp(0)
    return None


def _whole_seconds(typed: exp.Expression) -> frozenset[int]:
    """Result columns of type timestamp(0) (see :func:`_literal_precision`); a result
    timestamp of any precision but 0 and 3 is refused by name."""
    if not isinstance(typed, exp.Select):
        return frozenset()
    found = set()
    for position, item in enumerate(typed.expressions):
        t = item.type
        if t is None or t.this != exp.DataType.Type.TIMESTAMP:
            continue
        digits = _literal_precision(item)
        if digits == 0:
            found.add(position)
        elif digits != 3:
            shown = "mixed precisions" if digits is None else f"timestamp({digits})"
            raise QueryError(
                f"a result column of {shown} is not supported by the local engine: Athena "
                "prints a timestamp with its precision's digits and the local engine prints 3 "
                "(or none for timestamp(0)); cast it to timestamp(3) or varchar"
            )
    return frozenset(found)


def check_types(tree: exp.Expression, schema: Schema, database: str) -> Facts | None:
    """Refuse, as Athena does, any operation mixing text with numbers, dates or booleans
    (comparisons, IN, BETWEEN, COALESCE, CASE, arithmetic, ``||``, UNION columns), wherever
    it is in the query; a date or timestamp plus a number too (Trino has no ``date + 1``).

    Returns what the types decide about the translation (:class:`Facts`), or None (and
    checks nothing) when the optimizer cannot type the tree; the caller then falls back to
    :func:`check_operand_kinds`.
    """
    typed = _annotated(tree, schema, database)
    if typed is None:
        return None
    for node in typed.walk():
        if isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
            _refuse_mixed(
                _SYMBOLS[node.key.upper()], [_typed_kind(node.this), _typed_kind(node.expression)]
            )
        elif isinstance(node, exp.NullSafeEQ | exp.NullSafeNEQ):
            _refuse_mixed(
                "IS DISTINCT FROM", [_typed_kind(node.this), _typed_kind(node.expression)]
            )
        elif isinstance(node, exp.In):
            kinds = [_typed_kind(node.this), *(_typed_kind(e) for e in node.expressions)]
            if node.args.get("query") is not None:
                kinds.append(_subquery_kind(node.args["query"]))
            _refuse_mixed("IN", kinds)
        elif isinstance(node, exp.Between):
            _refuse_mixed(
                "BETWEEN",
                [
                    _typed_kind(node.this),
                    _typed_kind(node.args["low"]),
                    _typed_kind(node.args["high"]),
                ],
            )
        elif isinstance(node, exp.Coalesce):
            _refuse_mixed("COALESCE", [_typed_kind(e) for e in (node.this, *node.expressions)])
        elif isinstance(node, exp.Case):
            ifs = node.args.get("ifs") or []
            results = [i.args.get("true") for i in ifs] + [node.args.get("default")]
            _refuse_mixed("CASE", [_typed_kind(r) for r in results if r is not None])
            if node.this is not None:
                operands = [node.this, *(i.this for i in ifs)]
                _refuse_mixed("CASE", [_typed_kind(o) for o in operands])
        elif isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
            symbol = _ARITHMETIC[type(node)]
            kinds = [_typed_kind(node.this), _typed_kind(node.expression)]
            _refuse_mixed(symbol, kinds)
            if {k[0] for k in kinds if k} in ({"number", "date"}, {"number", "timestamp"}):
                first, second = (k[1] if k else "?" for k in kinds)
                raise QueryError(
                    f"Cannot apply operator: {first} {symbol} {second}: Athena adds "
                    "days to a date only as an interval (date + INTERVAL '1' DAY, or "
                    "date_add); the local engine refuses it as Athena does"
                )
        elif isinstance(node, exp.DPipe | exp.Concat):
            _check_concat(node, _typed_kind)
        elif isinstance(node, exp.SetOperation):
            left, right = node.left, node.right
            if isinstance(left, exp.Query) and isinstance(right, exp.Query):
                pairs = zip(left.selects, right.selects, strict=False)
                for n, (one, other) in enumerate(pairs, 1):
                    kinds = [_typed_kind(cast(exp.Expression, e)) for e in (one, other)]
                    bad = _mismatch(kinds)
                    if bad:
                        raise QueryError(
                            f"column {n} in {node.key.upper()} query has incompatible types: "
                            f"{bad[0]}, {bad[1]}; the local engine refuses it as Athena does"
                        )
    try:
        return _facts(typed)
    except (SqlglotError, KeyError, ValueError, TypeError, AttributeError):
        return Facts()
