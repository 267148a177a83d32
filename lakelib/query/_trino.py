"""Trino (Athena) SQL to DuckDB SQL: sqlglot, plus the project's own fixes.

sqlglot's Trino -> DuckDB transpiler gets most syntax right but not every meaning. Each
entry of :data:`REWRITES` is one fix on the parsed Trino AST, documented with the Trino rule
it implements; a fix whose answer depends on an argument's type calls a ``trino_*`` DuckDB
macro with typed overloads (:mod:`lakelib.query._macros`). Constructs with no faithful
translation are refused with a :class:`~lakelib.errors.QueryError` that names them
(:data:`REFUSED`), and sqlglot's own "unsupported" warnings are raised as errors too, so
the local engine never returns a silently different answer.

``?`` execution parameters become named DuckDB parameters ``$p1, $p2, ...`` in the order
they appear in the text, bound at execution (never pasted into the SQL).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.tokenizer_core import TokenType

from lakelib.errors import QueryError
from lakelib.query._functions import NAME_KEY, LakeTrino, check_calls
from lakelib.query._typing import (
    AVG_KEY,
    OPERANDS_KEY,
    TYPE_KEY,
    Num,
    annotate,
    check_operand_kinds,
    check_types,
    static_type,
)

__all__ = ["REFUSED", "REWRITES", "Rewrite", "parse_trino", "to_duckdb", "translate"]

READ = LakeTrino  # Trino, recording each call's written name (the function table)
WRITE = "duckdb"


@dataclass(frozen=True)
class Rewrite:
    """One translation fix: the Trino rule it implements and the function doing it."""

    name: str
    rule: str
    apply: Callable[[exp.Expression], exp.Expression | None]


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit")
    return (unit.name if unit is not None else "day").lower()


def _literal_text(node: exp.Expression | None, what: str) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise QueryError(f"{what} must be a string literal in the local engine")
    return node.name


# -- lambdas -----------------------------------------------------------------------------


def _lambda(node: exp.Expression | None, arity: int, function: str) -> exp.Lambda:
    if not isinstance(node, exp.Lambda) or len(node.expressions) != arity:
        raise QueryError(f"{function} expects a lambda with {arity} argument(s)")
    return node


def _substitute(body: exp.Expression, names: dict[str, exp.Expression]) -> exp.Expression:
    """The lambda body with its variables replaced by expressions (for inlining)."""

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in names:
            return names[node.name].copy()
        if (
            isinstance(node, exp.Identifier)
            and not isinstance(node.parent, exp.Column)
            and node.name in names
        ):
            return names[node.name].copy()
        return node

    return body.copy().transform(swap)


def _new_lambda(var: str, body: exp.Expression) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(var)])


def _entry_part(var: str, part: str) -> exp.Expression:
    return exp.Dot(this=exp.column(var), expression=exp.to_identifier(part))


# -- rewrites ----------------------------------------------------------------------------


def _decimal_type(t: Num) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({t.precision}, {t.scale})", dialect=WRITE)


def _unscaled(value: exp.Expression, t: Num) -> exp.Expression:
    """A decimal's digits as a HUGEINT (12.50 at scale 2 -> 1250), exactly, via its text."""
    pinned = exp.Cast(this=value, to=_decimal_type(t))
    text = exp.Cast(this=pinned, to=exp.DataType.build("VARCHAR"))
    digits = _fn("replace", text, exp.Literal.string("."), exp.Literal.string(""))
    return exp.Cast(this=digits, to=exp.DataType.build("HUGEINT", dialect=WRITE))


def _div(node: exp.Expression) -> exp.Expression | None:
    if not isinstance(node, exp.Div):
        return None
    a, b = node.meta.get(OPERANDS_KEY) or (None, None)
    result = node.meta.get(TYPE_KEY)
    if a is None or b is None or result is None or result.kind != "decimal":
        return _fn("trino_div", node.this, node.expression)
    # Trino's decimal quotient (decimal.md): scale max(xs, ys), rounded half up, computed on
    # the unscaled integers so no double rounding creeps in; overflow fails the CAST.
    x = a if a.kind == "decimal" else Num("decimal", a.precision, 0)
    y = b if b.kind == "decimal" else Num("decimal", b.precision, 0)
    k = exp.Cast(
        this=exp.Literal.string("1" + "0" * (result.scale - x.scale + y.scale)),
        to=exp.DataType.build("HUGEINT", dialect=WRITE),
    )
    quotient = _fn(
        "trino_decimal_quotient", _unscaled(node.this, x), _unscaled(node.expression, y), k
    )
    text = _fn("trino_scaled_text", quotient, exp.Literal.number(result.scale))
    typed = exp.Cast(this=text, to=_decimal_type(result))
    typed.meta["lake_done"] = True
    return typed


def _round(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
        return _fn("trino_round", node.this, node.args["decimals"])
    return None


def _dow(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Extract) and node.name.upper() in {"DOW", "DAY_OF_WEEK"}:
        return exp.DayOfWeekIso(this=node.expression)
    return None


_DOLLAR_GROUP = re.compile(r"\\(.)|\$(\d+)|\$\{([A-Za-z][A-Za-z0-9]*)\}|(\\)")


def _replacement(text: str) -> str:
    """Trino (Java) replacement ``$1`` / ``\\$`` -> RE2 ``\\1`` / ``$``."""

    def one(match: re.Match[str]) -> str:
        escaped, group, named, _ = match.groups()
        if escaped is not None:
            return "\\\\" if escaped == "\\" else escaped
        if named is not None:
            raise QueryError(f"regexp_replace: named group reference ${{{named}}} is not supported")
        if group is not None:
            return f"\\{group}"
        return "\\\\"

    return _DOLLAR_GROUP.sub(one, text)


def _regexp_replace(node: exp.Expression) -> exp.Expression | None:
    if not isinstance(node, exp.RegexpReplace):
        return None
    replacement = node.args.get("replacement")
    if isinstance(replacement, exp.Lambda):
        raise QueryError("regexp_replace with a lambda is not supported by the local engine")
    text = "" if replacement is None else _literal_text(replacement, "regexp_replace replacement")
    return _fn(
        "regexp_replace",
        node.this,
        node.expression,
        exp.Literal.string(_replacement(text)),
        exp.Literal.string("g"),
    )


def _date_diff(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.DateDiff):
        # DuckDB date_sub counts whole units elapsed, as Trino's date_diff does.
        return _fn("date_sub", exp.Literal.string(_unit(node)), node.expression, node.this)
    return None


def _interval(amount: exp.Expression, unit: str) -> exp.Expression:
    if unit == "quarter":
        return exp.Interval(
            this=exp.Mul(this=amount, expression=exp.Literal.number(3)), unit=exp.var("MONTH")
        )
    if unit == "millisecond":
        return exp.Interval(this=amount, unit=exp.var("MILLISECOND"))
    return exp.Interval(this=amount, unit=exp.var(unit.upper()))


def _date_add(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.DateAdd):
        amount = node.expression
        interval = _interval(
            exp.paren(amount) if not isinstance(amount, exp.Literal) else amount, _unit(node)
        )
        return _fn("trino_plus_interval", node.this, interval)
    return None


def _interval_arith(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
        name = "trino_plus_interval" if isinstance(node, exp.Add) else "trino_minus_interval"
        return _fn(name, node.this, node.expression)
    if isinstance(node, exp.Add) and isinstance(node.this, exp.Interval):
        return _fn("trino_plus_interval", node.expression, node.this)
    return None


def _date_trunc(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        return _fn("trino_date_trunc", exp.Literal.string(_unit(node)), node.this)
    return None


_INTEGRAL = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}
_TEXT = {exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.TEXT}


def _timestamp_precision(node: exp.Cast) -> exp.Expression:
    """The fraction digits Trino prints for a timestamp cast to text.

    A timestamp literal has the precision of its text (TIMESTAMP '... 03:04:05' is
    timestamp(0)); one read from a table, parsed or cast is timestamp(3). An expression built
    on a literal of another precision is unknown (NULL: refused if it is a timestamp).
    """
    inner = node.this
    literals = [
        c
        for c in inner.find_all(exp.Cast)
        if c.to.this == exp.DataType.Type.TIMESTAMP and c.to.expressions
    ]
    if isinstance(inner, exp.Cast) and inner in literals:
        digits = int(inner.to.expressions[0].this.name)
    elif any(int(c.to.expressions[0].this.name) != 3 for c in literals):
        return exp.Null()
    else:
        digits = 3
    if digits > 6:
        raise QueryError(
            "CAST(timestamp AS varchar) is not supported by the local engine for a precision "
            "above 6 digits"
        )
    return exp.Literal.number(digits)


_TEXT_CASTS = {
    exp.DataType.Type.DOUBLE: ("trino_cast_double", "DOUBLE"),
    exp.DataType.Type.FLOAT: ("trino_cast_double", "REAL"),
    exp.DataType.Type.DECIMAL: ("trino_cast_decimal", "DECIMAL"),
    exp.DataType.Type.DATE: ("trino_cast_date", "DATE"),
    exp.DataType.Type.TIMESTAMP: ("trino_cast_date", "TIMESTAMP"),
}


def _cast(node: exp.Expression) -> exp.Expression | None:
    if not isinstance(node, exp.Cast) or node.meta.get("lake_done"):
        return None
    to = node.to
    is_try = exp.Boolean(this=isinstance(node, exp.TryCast))
    if to.this in _INTEGRAL:
        target = to.this.value if to.this != exp.DataType.Type.INT else "INT"
        node.set("this", _fn("trino_cast_round", node.this, exp.Literal.string(target), is_try))
        node.meta["lake_done"] = True
        return node
    if to.this == exp.DataType.Type.DECIMAL and not to.expressions:
        # Trino: DECIMAL '1.50' is DECIMAL(3, 2) and CAST(x AS DECIMAL) is DECIMAL(38, 0);
        # DuckDB's bare DECIMAL is DECIMAL(18, 3).
        t = static_type(node)
        if t is not None and t.kind == "decimal":
            node.set("to", _decimal_type(t))
            to = node.to
    if to.this in _TEXT_CASTS:
        macro, target = _TEXT_CASTS[to.this]
        node.set("this", _fn(macro, node.this, exp.Literal.string(target), is_try))
        node.meta["lake_done"] = True
        return node
    if to.this in _TEXT:
        length = to.expressions[0].this if to.expressions else None
        # TRY_CAST takes the same path: its refusals (a double) are refusals, not NULLs.
        text: exp.Expression = _fn("trino_to_varchar", node.this, _timestamp_precision(node))
        if length is not None:
            # Trino: CAST(x AS varchar(n)) truncates to n characters.
            text = _fn("left", text, length)
        return text
    if to.this == exp.DataType.Type.TIMESTAMPTZ and not isinstance(node.this, exp.Literal):
        # Text with a zone keeps it in Trino; DuckDB keeps only the instant: refused.
        node.set("this", _fn("trino_tstz_source", node.this))
        node.meta["lake_done"] = True
        return node
    if to.this == exp.DataType.Type.JSON:
        raise QueryError("CAST(... AS JSON) is not supported by the local engine; use json_parse")
    return None


def _simple(name: str, duck: str) -> Callable[[exp.Expression], exp.Expression | None]:
    """A Trino function (parsed as Anonymous) DuckDB has under another name."""

    def rewrite(node: exp.Expression) -> exp.Expression | None:
        if isinstance(node, exp.Anonymous) and node.name.lower() == name:
            return _fn(duck, *node.expressions)
        return None

    return rewrite


def _constant(name: str, duck: str) -> Callable[[exp.Expression], exp.Expression | None]:
    """A Trino constant function (e(), nan(), infinity()) as a DuckDB expression."""

    def rewrite(node: exp.Expression) -> exp.Expression | None:
        if node.meta.get(NAME_KEY) == name and not _call_args(node):
            return cast(exp.Expression, sqlglot.parse_one(duck, read=WRITE))
        return None

    return rewrite


def _node_to_macro(
    kind: type[exp.Expression], macro: str, *arg_names: str
) -> Callable[[exp.Expression], exp.Expression | None]:
    def rewrite(node: exp.Expression) -> exp.Expression | None:
        if type(node) is kind:
            args = [node.args.get(a) for a in arg_names]
            return _fn(macro, *[a for a in args if a is not None])
        return None

    return rewrite


def _regexp_extract(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.RegexpExtract):
        group = node.args.get("group") or exp.Literal.number(0)
        return _fn("trino_regexp_extract", node.this, node.expression, group)
    return None


def _json_scalar(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.JSONExtractScalar):
        return _fn("trino_json_extract_scalar", node.this, node.expression)
    return None


def _substr(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Substring):
        args = [node.this, node.args.get("start") or exp.Literal.number(1)]
        if node.args.get("length") is not None:
            args.append(node.args["length"])
        return _fn("trino_substr", *args)
    return None


def _strpos(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.StrPosition) and node.args.get("occurrence") is not None:
        raise QueryError("strpos with an instance argument is not supported by the local engine")
    return None


# %f / %e are refused: Java rounds the shortest decimal form of a double half up
# (format('%.2f', 1.005e0) = '1.01'), printf the binary value ('1.00').
_PRINTF_SAFE = re.compile(r"%(?:%|n|[-0+ ]?\d*(?:\.\d+)?[sdxXo])")


def _format(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Format):
        # Trino format() takes Java format strings; printf agrees on %s %d %f %x %e %o %%
        # with width/precision. Positional (%1$s), grouping (%,d) and date (%tY) are refused.
        text = _literal_text(node.this, "format() pattern")
        rest = _PRINTF_SAFE.sub("", text)
        if "%" in rest:
            bad = rest[rest.index("%") :][:4]
            raise QueryError(f"format() conversion {bad!r} is not supported by the local engine")
        return _fn("printf", node.this, *node.expressions)
    return None


def _array_sort(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.ArraySort):
        if node.expression is not None:
            raise QueryError(
                "array_sort with a comparator lambda is not supported by the local engine"
            )
        return _fn(
            "list_sort", node.this, exp.Literal.string("ASC"), exp.Literal.string("NULLS LAST")
        )
    return None


def _cardinality(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.ArraySize):
        return _fn("cardinality", node.this)
    return None


def _every(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "every":
        return exp.LogicalAnd(this=node.expressions[0])
    return None


def _match(node: exp.Expression) -> exp.Expression | None:
    if not isinstance(node, exp.Anonymous):
        return None
    name = node.name.lower()
    if name not in {"any_match", "all_match", "none_match"}:
        return None
    array, fn = node.expressions
    results = _fn("list_transform", array, _lambda(fn, 1, name))
    if name == "any_match":
        return _fn("trino_any_true", results)
    if name == "all_match":
        return _fn("trino_all_true", results)
    return exp.Not(this=exp.paren(_fn("trino_any_true", results)))


def _map_lambdas(node: exp.Expression) -> exp.Expression | None:
    if not isinstance(node, exp.Anonymous):
        return None
    name = node.name.lower()
    if name not in {"transform_values", "transform_keys", "map_filter"}:
        return None
    mapping, fn = node.expressions
    lam = _lambda(fn, 2, name)
    k, v = (i.name for i in lam.expressions)
    var = "__lake_e"
    names = {k: _entry_part(var, "key"), v: _entry_part(var, "value")}
    body = _substitute(lam.this, names)
    entries = _fn("map_entries", mapping)
    if name == "map_filter":
        return _fn("map_from_entries", _fn("list_filter", entries, _new_lambda(var, body)))
    if name == "transform_values":
        entry = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("key"), expression=_entry_part(var, "key")),
                exp.PropertyEQ(this=exp.to_identifier("value"), expression=body),
            ]
        )
    else:
        entry = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("key"), expression=body),
                exp.PropertyEQ(
                    this=exp.to_identifier("value"), expression=_entry_part(var, "value")
                ),
            ]
        )
    return _fn("map_from_entries", _fn("list_transform", entries, _new_lambda(var, entry)))


def _zip_with(node: exp.Expression) -> exp.Expression | None:
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "zip_with"):
        return None
    left, right, fn = node.expressions
    lam = _lambda(fn, 2, "zip_with")
    x, y = (i.name for i in lam.expressions)
    var = "__lake_z"
    body = _substitute(
        lam.this,
        {
            x: _fn("struct_extract", exp.column(var), exp.Literal.number(1)),
            y: _fn("struct_extract", exp.column(var), exp.Literal.number(2)),
        },
    )
    return _fn("list_transform", _fn("list_zip", left, right), _new_lambda(var, body))


def _reduce(node: exp.Expression) -> exp.Expression | None:
    if not isinstance(node, exp.Reduce):
        return None
    merge = _lambda(node.args.get("merge"), 2, "reduce")
    # DuckDB list_reduce(list, lambda acc, x: ..., initial): same argument order as Trino.
    reduced = _fn("list_reduce", node.this, merge, node.args["initial"])
    finish = node.args.get("finish")
    if finish is None:
        return reduced
    lam = _lambda(finish, 1, "reduce output function")
    return exp.paren(_substitute(lam.this, {lam.expressions[0].name: exp.paren(reduced)}))


# Joda-Time pattern letters (format_datetime / parse_datetime) -> strftime.
_JODA = {
    "yyyy": "%Y",
    "yy": "%y",
    "xxxx": "%G",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "M": "%-m",
    "dd": "%d",
    "d": "%-d",
    "DDD": "%j",
    "HH": "%H",
    "H": "%-H",
    "hh": "%I",
    "h": "%-I",
    "mm": "%M",
    "m": "%-M",
    "ss": "%S",
    "s": "%-S",
    "SSS": "%g",
    "SSSSSS": "%f",
    "a": "%p",
    "EEEE": "%A",
    "EEE": "%a",
    "E": "%a",
    "ZZ": "%z",
    "Z": "%z",
    "ww": "%V",
    "e": "%u",
}
_JODA_TOKEN = re.compile(r"'([^']*)'|([A-Za-z])\2*")


def joda_to_strftime(pattern: str) -> str:
    """A Joda-Time pattern as a strftime format; unknown letters raise :class:`QueryError`."""
    out, pos = [], 0
    for match in _JODA_TOKEN.finditer(pattern):
        out.append(pattern[pos : match.start()].replace("%", "%%"))
        pos = match.end()
        if match.group(1) is not None:
            out.append("'" if match.group(1) == "" else match.group(1).replace("%", "%%"))
            continue
        token = match.group(0)
        if token not in _JODA:
            raise QueryError(
                f"format_datetime/parse_datetime pattern letter {token!r} is not supported by "
                "the local engine"
            )
        out.append(_JODA[token])
    out.append(pattern[pos:].replace("%", "%%"))
    return "".join(out)


def _parse_datetime(value: exp.Expression, pattern_node: exp.Expression | None) -> exp.Expression:
    """parse_datetime: a timestamp with time zone, in the session's zone (UTC) when the
    pattern names none; a pattern with zone letters would keep the parsed zone: refused."""
    pattern = _literal_text(pattern_node, "parse_datetime pattern")
    if re.search(r"[zZ]", re.sub(r"'[^']*'", "", pattern)):
        raise QueryError(
            "function parse_datetime is not supported by the local engine with a zone in the "
            "pattern (Trino keeps the parsed zone in the value)"
        )
    parsed = _fn("strptime", value, exp.Literal.string(joda_to_strftime(pattern)))
    return exp.Cast(this=parsed, to=exp.DataType.build("TIMESTAMPTZ", dialect=WRITE))


def _joda(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.ParseDatetime):
        return _parse_datetime(node.this, node.args.get("format"))
    if not isinstance(node, exp.Anonymous):
        return None
    name = node.name.lower()
    if name not in {"format_datetime", "parse_datetime"}:
        return None
    value, pattern = node.expressions
    if name == "parse_datetime":
        return _parse_datetime(value, pattern)
    fmt = exp.Literal.string(joda_to_strftime(_literal_text(pattern, f"{name} pattern")))
    return _fn("strftime", value, fmt)


def _map_agg(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "map_agg":
        key, value = node.expressions
        entry = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("key"), expression=key),
                exp.PropertyEQ(this=exp.to_identifier("value"), expression=value),
            ]
        )
        collected = exp.Filter(
            this=_fn("list", entry),
            expression=exp.Where(this=exp.Not(this=exp.Is(this=key.copy(), expression=exp.Null()))),
        )
        return _fn("map_from_entries", collected)
    return None


def _approx_distinct(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.ApproxDistinct):
        # An estimate in Trino (HyperLogLog, standard error 2.3%, or the accuracy asked for);
        # the local engine gives the true count, which Athena's estimate approximates, rather
        # than DuckDB's own sketch (978 for 1,000 distinct values). Deterministic, and the
        # same as Athena's wherever Athena's sketch is exact (small counts).
        count = exp.Count(this=exp.Distinct(expressions=[node.this]))
        return count
    return None


def _approx_percentile(node: exp.Expression) -> exp.Expression | None:
    if node.meta.get(NAME_KEY) == "approx_percentile" and len(_call_args(node)) > 2:
        raise QueryError(
            "function approx_percentile is not supported by the local engine with weights "
            "(approx_percentile(x, w, percentage))"
        )
    return None


def _map_concat(node: exp.Expression) -> exp.Expression | None:
    """map_concat in Trino's entry order: the last map's entries, then each earlier map's
    new keys, last to first (MapConcatFunction); NULL if any map is NULL. DuckDB keeps the
    first map's order, which Athena's CSV would print differently ({1=10, 2=200, 3=300}
    against Trino's {2=200, 3=300, 1=10})."""
    if node.meta.get(NAME_KEY) != "map_concat":
        return None
    maps = _call_args(node)
    if not 2 <= len(maps) <= 4:
        raise QueryError(
            "function map_concat is not supported by the local engine with "
            f"{len(maps)} arguments (2 to 4 are)"
        )
    var, seen = "__lake_m", "__lake_k"
    entries: exp.Expression = _fn("map_entries", maps[-1])
    for earlier in reversed(maps[:-1]):
        keys = _fn("list_transform", entries.copy(), _new_lambda(seen, _entry_part(seen, "key")))
        new_key = exp.Not(this=_fn("list_contains", keys, _entry_part(var, "key")))
        entries = _fn(
            "list_concat",
            entries,
            _fn("list_filter", _fn("map_entries", earlier), _new_lambda(var, new_key)),
        )
    any_null = exp.or_(*[exp.Is(this=m.copy(), expression=exp.Null()) for m in maps])
    return exp.Case(
        ifs=[exp.If(this=any_null, true=exp.Null())],
        default=_fn("map_from_entries", entries),
    )


def _first_arg(name: str, macro: str) -> Callable[[exp.Expression], exp.Expression | None]:
    """A one-argument Trino function to its macro (sqlglot adds implied arguments:
    sha256(x) parses as SHA2(x, 256), to_utf8(x) as ENCODE(x, 'utf-8'))."""

    def rewrite(node: exp.Expression) -> exp.Expression | None:
        if node.meta.get(NAME_KEY) == name:
            return _fn(macro, _call_args(node)[0])
        return None

    return rewrite


def _truncate(node: exp.Expression) -> exp.Expression | None:
    if node.meta.get(NAME_KEY) != "truncate":
        return None
    args = _call_args(node)
    if len(args) != 1:
        raise QueryError(
            "function truncate is not supported by the local engine with a number of digits"
        )
    return _fn("trino_truncate", args[0])


def _to_iso8601(node: exp.Expression) -> exp.Expression | None:
    if node.meta.get(NAME_KEY) == "to_iso8601":
        args = _call_args(node)
        if len(args) != 1:
            raise QueryError("function to_iso8601 takes one argument")
        digits = _timestamp_precision(exp.Cast(this=args[0], to=exp.DataType.build("VARCHAR")))
        return _fn("trino_to_iso8601", args[0], digits)
    return None


def _nth_value(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.NthValue) and not node.meta.get("lake_done"):
        node.set("offset", _fn("trino_offset", node.args["offset"]))
        node.meta["lake_done"] = True
        return node
    return None


def _call_args(node: exp.Expression) -> list[exp.Expression]:
    """A call's arguments in the order they were written."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    found: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            found.extend(value)
        elif isinstance(value, exp.Expression):
            found.append(value)
    return found


def _by_name(name: str, macro: str) -> Callable[[exp.Expression], exp.Expression | None]:
    """A Trino function, as the user wrote it, given to a ``trino_*`` macro of its own."""

    def rewrite(node: exp.Expression) -> exp.Expression | None:
        if node.meta.get(NAME_KEY) == name:
            return _fn(macro, *_call_args(node))
        return None

    return rewrite


def _from_unixtime(node: exp.Expression) -> exp.Expression | None:
    if node.meta.get(NAME_KEY) == "from_unixtime" and len(_call_args(node)) > 2:
        raise QueryError(
            "function from_unixtime is not supported by the local engine with a time zone or "
            "offset argument: Trino keeps the zone in the value; the local engine's timestamps "
            "carry none"
        )
    return None


def _subscript(node: exp.Expression) -> exp.Expression | None:
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1:
        return None
    index = node.expressions[0]
    if node.args.get("safe"):  # element_at(array_or_map, index): stored as Trino wrote it
        return _fn("trino_element_at", node.this, index)
    if node.args.get("offset") is None:
        # sqlglot keeps a literal subscript 0-based (a[0] as -1); Trino's start at 1.
        negative = isinstance(index, exp.Neg)
        literal = index.this if negative else index
        if isinstance(literal, exp.Literal) and literal.is_int:
            index = exp.Literal.number((-1 if negative else 1) * int(literal.name) + 1)
    return _fn("trino_subscript", node.this, index)


def _guard_args(node: exp.Expression) -> exp.Expression | None:
    """Wrap the arguments whose edge cases differ between the engines in refusing macros."""
    if node.meta.get("lake_guarded"):
        return None
    name = node.meta.get(NAME_KEY)
    guards = {
        "split": ("delimiter", "expression", "trino_delimiter"),
        "split_part": ("delimiter", "delimiter", "trino_delimiter"),
        "regexp_split": ("pattern", "expression", "trino_pattern"),
        "regexp_extract_all": ("pattern", "expression", "trino_pattern"),
        "regexp_replace": ("pattern", "expression", "trino_pattern"),
        "regexp_count": ("pattern", "expression", "trino_pattern"),
        "lpad": ("size", "expression", "trino_pad_size"),
        "rpad": ("size", "expression", "trino_pad_size"),
    }
    if name not in guards:
        return None
    if name == "split" and len(_call_args(node)) > 2:
        raise QueryError(
            "function split is not supported by the local engine with a limit argument"
        )
    _, key, macro = guards[name]
    value = node.args.get(key)
    if value is not None:
        node.set(key, _fn(macro, value, exp.Literal.string(name)))
    node.meta["lake_guarded"] = True
    return node


def _date_function(node: exp.Expression) -> exp.Expression | None:
    if node.meta.get(NAME_KEY) == "date" and not isinstance(node, exp.Cast):
        # Trino: date(x) is CAST(x AS date); the cast's own rules (text forms) then apply.
        (value,) = _call_args(node)
        return exp.Cast(this=value, to=exp.DataType.build("DATE"))
    return None


def _decimal_avg(node: exp.Avg, t: Num) -> exp.Expression:
    """Trino's avg of a decimal(p, s): the sum divided by the count at scale s, rounded half
    up (DecimalAverageAggregation), as a decimal(p, s); NULL without values."""
    total = _unscaled(exp.Sum(this=node.this.copy()), Num("decimal", 38, t.scale))
    hugeint = exp.DataType.build("HUGEINT", dialect=WRITE)
    count = exp.Count(this=node.this.copy())
    quotient = _fn(
        "trino_decimal_quotient",
        total,
        exp.Cast(this=count.copy(), to=hugeint),
        exp.Cast(this=exp.Literal.string("1"), to=hugeint),
    )
    text = _fn("trino_scaled_text", quotient, exp.Literal.number(t.scale))
    typed = exp.Cast(this=text, to=_decimal_type(t))
    typed.meta["lake_done"] = True
    empty = exp.EQ(this=count, expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=empty, true=exp.Null())], default=typed)


def _avg(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Avg) and not node.meta.get("lake_done"):
        kind = node.meta.get(AVG_KEY)
        if kind == "plain":
            return None  # typed from the catalog: an integer or double column
        if isinstance(kind, Num) and not isinstance(node.parent, exp.Window | exp.Filter):
            return _decimal_avg(node, kind)  # (a window or FILTER keeps the refusal)
        node.set("this", _fn("trino_not_decimal", node.this, exp.Literal.string("avg")))
        node.meta["lake_done"] = True
        return node
    return None


def _literal_pattern(node: exp.Expression) -> exp.Expression | None:
    name = node.meta.get(NAME_KEY)
    if name in {"date_format", "date_parse", "format_datetime", "parse_datetime"}:
        args = _call_args(node)
        if len(args) > 1 and not (isinstance(args[1], exp.Literal) and args[1].is_string):
            raise QueryError(
                f"function {name} is not supported by the local engine with a pattern that is "
                "not a string literal (its specifiers are translated when the query is read)"
            )
    return None


def _current_timezone(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.CurrentTimezone):
        # Athena's session time zone is UTC (and so is the local engine's connection).
        return exp.Literal.string("UTC")
    return None


# -- time zones ----------------------------------------------------------------------------
# Trino's TIMESTAMP WITH TIME ZONE keeps its zone (rendered 2024-01-01 07:00:00.000
# America/New_York); DuckDB's TIMESTAMPTZ is an instant shown in the session zone. A zoned
# value (x AT TIME ZONE z, at_timezone, with_timezone, from_unixtime(x, z)) is translated
# where what reads it needs only its wall-clock time in the zone (hour, date, CAST to date or
# timestamp, format_datetime without zone letters, ...) or only its instant (to_unixtime,
# comparisons); anywhere else (shown in a result, date_trunc, CAST to varchar) it is refused.

_ZONE_FUNCTIONS = {"at_timezone", "with_timezone"}
# Calls that read the wall-clock fields of their (first) argument.
_LOCAL_READERS = {
    "hour",
    "minute",
    "second",
    "millisecond",
    "year",
    "quarter",
    "month",
    "week",
    "week_of_year",
    "year_of_week",
    "yow",
    "day",
    "day_of_month",
    "day_of_week",
    "dow",
    "day_of_year",
    "doy",
    "date",
    "extract",
    "format_datetime",
    "date_format",
}
_INSTANT_READERS = {"to_unixtime"}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
_ZONE_REFUSAL = (
    "{what} is supported by the local engine only where its wall-clock fields or its instant "
    "are read (hour(...), date(...), CAST(... AS date|timestamp), format_datetime, "
    "to_unixtime, comparisons): Trino's TIMESTAMP WITH TIME ZONE keeps its zone (shown as "
    "2024-01-01 07:00:00.000 America/New_York); the local engine's timestamps carry none"
)


@cache
def _zone_names() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def _zoned_parts(node: exp.Expression) -> tuple[str, exp.Expression, exp.Expression] | None:
    """(how, value, zone) of a zoned-value node: how is 'at' (keep the instant, show it in
    zone) or 'with' (read value as wall-clock time in zone); None for other nodes."""
    if isinstance(node, exp.AtTimeZone):
        return "at", node.this, node.args["zone"]
    name = node.meta.get(NAME_KEY)
    if name in _ZONE_FUNCTIONS:
        args = _call_args(node)
        if len(args) != 2:
            raise QueryError(f"function {name} takes a timestamp and a zone")
        return ("at" if name == "at_timezone" else "with"), args[0], args[1]
    if isinstance(node, exp.UnixToTime) and name == "from_unixtime":
        args = _call_args(node)
        if len(args) == 2:
            return "unix", args[0], args[1]
    if (
        isinstance(node, exp.Cast)
        and node.to.this == exp.DataType.Type.TIMESTAMPTZ
        and isinstance(node.this, exp.Literal)
        and node.this.is_string
    ):
        # TIMESTAMP '2024-01-01 05:00:00 America/New_York' keeps its zone in Trino (hour 5);
        # DuckDB's TIMESTAMPTZ keeps only the instant (10:00 UTC). A UTC literal is plain.
        zone = _literal_zone(node.this.name)
        if zone is not None:
            return "literal", node, exp.Literal.string(zone)
    return None


_UTC_ZONES = {"UTC", "Z", "GMT", "UCT", "ETC/UTC", "ETC/GMT", "+00:00", "+00", "-00:00", "+0000"}
_LITERAL_ZONE = re.compile(
    r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*([A-Za-z][A-Za-z0-9_+\-/]*|[+-]\d{2}(?::?\d{2})?)\s*$"
)


def _literal_zone(text: str) -> str | None:
    """The zone written at the end of a timestamp literal, None for UTC (or none)."""
    found = _LITERAL_ZONE.search(text.strip())
    if found is None or found.group(1).upper() in _UTC_ZONES:
        return None
    return found.group(1)


def _zone_literal(zone: exp.Expression, what: str) -> str:
    if not (isinstance(zone, exp.Literal) and zone.is_string):
        raise QueryError(f"{what}: the zone must be a string literal in the local engine")
    if zone.name not in _zone_names():
        raise QueryError(
            f"{what}: zone {zone.name!r} is not supported by the local engine (IANA zone "
            "names such as 'America/New_York' or 'UTC' are)"
        )
    return zone.name


def _what(node: exp.Expression) -> str:
    if isinstance(node, exp.Cast):
        return "a TIMESTAMP literal with a time zone"
    name = node.meta.get(NAME_KEY)
    return f"function {name}" if name else "AT TIME ZONE"


def _zone_reader(node: exp.Expression) -> str | None:
    """'local', 'instant' or 'zoned' (another zone conversion) for what reads a zoned value."""
    parent = cast(exp.Expression | None, node.parent)
    while isinstance(parent, exp.Paren):
        node, parent = parent, cast(exp.Expression | None, parent.parent)
    if parent is None:
        return None
    first = _call_args(parent)[:1]
    if _zoned_parts(parent) is not None and first and first[0] is node:
        return "zoned"
    if isinstance(parent, exp.AtTimeZone) and parent.this is node:
        return "zoned"
    if isinstance(parent, _COMPARISONS):
        return "instant"
    name = parent.meta.get(NAME_KEY)
    if isinstance(parent, exp.Cast):
        to = parent.to.this
        if to in {exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP} and parent.this is node:
            return "local"
        return None
    if name in _INSTANT_READERS:
        return "instant"
    if name in _LOCAL_READERS and any(a is node for a in _call_args(parent)):
        if name == "format_datetime":
            pattern = _call_args(parent)[1:2]
            if (
                pattern
                and isinstance(pattern[0], exp.Literal)
                and re.search(r"[zZ]", re.sub(r"'[^']*'", "", pattern[0].name))
            ):
                return None  # zone letters need the zone
        return "local"
    return None


def check_zones(tree: exp.Expression) -> None:
    """Refuse a zoned value the local engine cannot answer exactly (see above)."""
    for found in tree.walk():
        node = cast(exp.Expression, found)
        parts = _zoned_parts(node)
        if parts is None:
            continue
        _zone_literal(parts[2], _what(node))
        if _zone_reader(node) is None:
            raise QueryError(
                "not supported by the local engine: " + _ZONE_REFUSAL.format(what=_what(node))
            )


def _instant(node: exp.Expression) -> exp.Expression:
    """A zoned value's instant (a DuckDB TIMESTAMPTZ expression)."""
    while isinstance(node, exp.Paren):
        node = node.this
    parts = _zoned_parts(node)
    if parts is None:
        return _fn("trino_zone_instant", node)
    how, value, zone = parts
    if how == "literal":
        return node.copy()  # CAST('... zone' AS TIMESTAMPTZ): DuckDB reads the instant
    if how == "with":
        return _fn("trino_with_zone", value, zone)
    if how == "unix":
        return _fn("to_timestamp", value)
    return _instant(value)


def _zones(tree: exp.Expression) -> exp.Expression:
    """Replace each outermost zoned value by its wall-clock time or its instant."""
    nodes = [cast(exp.Expression, n) for n in tree.walk()]
    outermost = [n for n in nodes if _zoned_parts(n) is not None and _zone_reader(n) != "zoned"]
    for node in outermost:
        reader = _zone_reader(node)
        parts = _zoned_parts(node)
        assert parts is not None
        instant = _instant(node)
        new = instant if reader == "instant" else _fn("timezone", parts[2], instant)
        new.meta["lake_zone_done"] = True
        if node is tree:
            return new
        node.replace(new)
    return tree


# aggregate.html: listagg's output may not pass 1,048,576 bytes (ON OVERFLOW ERROR, the
# default); DuckDB's string_agg has no limit.
_LISTAGG_LIMIT = 1_048_576


def _listagg(tree: exp.Expression) -> exp.Expression:
    """listagg: an empty separator by default (sqlglot would write ','), the overflow error
    at Trino's limit; ON OVERFLOW TRUNCATE and window frames are refused."""
    calls = [
        n
        for n in tree.find_all(exp.GroupConcat)
        if n.meta.get(NAME_KEY) == "listagg" and not n.meta.get("lake_done")
    ]
    for node in calls:
        overflow = node.args.get("on_overflow")
        if overflow is not None and not isinstance(overflow, exp.Var | exp.Literal):
            raise QueryError(
                "function listagg is not supported by the local engine with ON OVERFLOW TRUNCATE"
            )
        node.set("on_overflow", None)
        if node.args.get("separator") is None:
            node.set("separator", exp.Literal.string(""))
        node.meta["lake_done"] = True
        outer: exp.Expression = node
        while isinstance(outer.parent, exp.Filter | exp.WithinGroup):
            outer = cast(exp.Expression, outer.parent)
        if isinstance(outer.parent, exp.Window):
            raise QueryError("function listagg does not support window frames (Trino neither)")
        too_long = exp.GT(
            this=_fn("strlen", outer.copy()),  # bytes of the UTF-8 text
            expression=exp.Literal.number(_LISTAGG_LIMIT),
        )
        failure = _fn(
            "error",
            exp.Literal.string(
                f"Concatenated string has the length in bytes larger than {_LISTAGG_LIMIT}"
            ),
        )
        checked = exp.Case(ifs=[exp.If(this=too_long, true=failure)], default=outer.copy())
        if outer is tree:
            return checked
        outer.replace(checked)
    return tree


REWRITES: tuple[Rewrite, ...] = (
    Rewrite(
        "edge-case guards",
        "empty delimiters, patterns matching '', split with a limit: refused",
        _guard_args,
    ),
    Rewrite("date", "date(x) is CAST(x AS date)", _date_function),
    Rewrite(
        "division",
        "integer / integer truncates toward zero (-7 / 2 = -3); decimal / decimal has scale "
        "max(xs, ys), rounded half up (1 / 3.0 = 0.3)",
        _div,
    ),
    Rewrite("round", "round(decimal, d) keeps the decimal's scale (round(1.25, 1) = 1.30)", _round),
    Rewrite("day of week", "extract(dow ...) is ISO: Monday = 1 ... Sunday = 7", _dow),
    Rewrite(
        "regexp_replace",
        "replaces every match; $n / ${name} in the replacement are group references",
        _regexp_replace,
    ),
    Rewrite("date_diff", "counts whole units elapsed, not boundaries crossed", _date_diff),
    Rewrite("date_add", "keeps the argument's type: date_add('day', 1, DATE) is a DATE", _date_add),
    Rewrite("interval arithmetic", "DATE +/- INTERVAL is a DATE", _interval_arith),
    Rewrite("date_trunc", "keeps the argument's type (DATE stays DATE)", _date_trunc),
    Rewrite(
        "casts",
        "CAST(double AS integer) rounds half away from zero; CAST(x AS varchar(n)) "
        "truncates; CAST(double AS varchar) is scientific notation (refused)",
        _cast,
    ),
    Rewrite("regexp_extract", "NULL when the pattern does not match", _regexp_extract),
    Rewrite("json_extract_scalar", "NULL when the value is an object or array", _json_scalar),
    Rewrite(
        "split_part",
        "NULL when the index is past the last field",
        _node_to_macro(exp.SplitPart, "trino_split_part", "this", "delimiter", "part_index"),
    ),
    Rewrite("substr", "substr(s, 0) is ''", _substr),
    Rewrite("strpos", "strpos(s, t, instance) is refused", _strpos),
    Rewrite("format", "Java format strings (printf-like), not fmt braces", _format),
    Rewrite(
        "slice",
        "slice(array, start, length), negative start from the end",
        _node_to_macro(exp.ArraySlice, "trino_slice", "this", "start", "end"),
    ),
    Rewrite("array_sort", "ascending with NULLs last; comparators refused", _array_sort),
    Rewrite(
        "array_max",
        "NULL if the array holds a NULL",
        _node_to_macro(exp.ArrayMax, "trino_array_max", "this"),
    ),
    Rewrite(
        "array_min",
        "NULL if the array holds a NULL",
        _node_to_macro(exp.ArrayMin, "trino_array_min", "this"),
    ),
    Rewrite(
        "array_position",
        "0 when absent",
        _node_to_macro(exp.ArrayPosition, "trino_array_position", "this", "expression"),
    ),
    Rewrite(
        "contains",
        "NULL when absent and the array holds a NULL",
        _node_to_macro(exp.ArrayContains, "trino_contains", "this", "expression"),
    ),
    Rewrite("cardinality", "size of an array or a map", _cardinality),
    Rewrite("every", "every(x) is bool_and(x)", _every),
    Rewrite("any/all/none_match", "three-valued predicates over arrays", _match),
    Rewrite("map lambdas", "transform_values, transform_keys, map_filter", _map_lambdas),
    Rewrite("zip_with", "pads the shorter array with NULLs", _zip_with),
    Rewrite("reduce", "reduce(array, initial, merge, output)", _reduce),
    Rewrite("format_datetime/parse_datetime", "Joda-Time patterns", _joda),
    Rewrite("map_agg", "map_agg(key, value) skips NULL keys", _map_agg),
    Rewrite("approx_distinct", "the true count (Athena's is an estimate of it)", _approx_distinct),
    Rewrite("approx_percentile", "weights are refused", _approx_percentile),
    Rewrite("map_concat", "later maps win; Trino's entry order; NULL if a map is", _map_concat),
    Rewrite("nth_value", "the offset starts at 1; 0 or less fails", _nth_value),
    Rewrite("to_iso8601", "a 'T' between date and time; p fraction digits", _to_iso8601),
    Rewrite("truncate", "truncate(double) only; truncate(x, n) refused", _truncate),
    Rewrite(
        "is_json_scalar",
        "false for objects and arrays",
        _first_arg("is_json_scalar", "trino_is_json_scalar"),
    ),
    Rewrite(
        "to_milliseconds",
        "a day-to-second interval in milliseconds; year-to-month fails",
        _first_arg("to_milliseconds", "trino_to_milliseconds"),
    ),
    *(
        Rewrite(name, f"{name} takes Trino's argument type only", _first_arg(name, f"trino_{name}"))
        for name in (
            "md5",
            "sha1",
            "sha256",
            "to_hex",
            "from_hex",
            "to_utf8",
            "from_utf8",
            "to_base64",
            "from_base64",
        )
    ),
    Rewrite(
        "from_iso8601_timestamp",
        "UTC or zone-less ISO 8601 text, to the millisecond; other zones refused",
        _by_name("from_iso8601_timestamp", "trino_from_iso8601_timestamp"),
    ),
    Rewrite(
        "split_to_map",
        "each entry holds the key-value delimiter once; a trailing entry delimiter is ignored",
        _by_name("split_to_map", "trino_split_to_map"),
    ),
    Rewrite("array_first", "NULL for an empty array", _by_name("array_first", "trino_array_first")),
    Rewrite("array_last", "NULL for an empty array", _by_name("array_last", "trino_array_last")),
    Rewrite(
        "array_remove",
        "NULL elements are kept; a NULL value gives NULL",
        _by_name("array_remove", "trino_array_remove"),
    ),
    Rewrite(
        "trim_array",
        "n past the cardinality fails",
        _by_name("trim_array", "trino_trim_array"),
    ),
    Rewrite(
        "localtimestamp",
        "the session's (UTC) wall-clock time, to the millisecond",
        _constant("localtimestamp", "date_trunc('millisecond', localtimestamp)"),
    ),
    Rewrite("e", "Euler's number", _constant("e", "exp(1)")),
    Rewrite("nan", "the double NaN", _constant("nan", "CAST('NaN' AS DOUBLE)")),
    Rewrite("infinity", "positive infinity", _constant("infinity", "CAST('Infinity' AS DOUBLE)")),
    Rewrite("is_finite", "false for NaN and infinities", _simple("is_finite", "isfinite")),
    Rewrite("is_infinite", "true for either infinity", _simple("is_infinite", "isinf")),
    *(
        Rewrite(name, rule, _by_name(name, f"trino_{name}"))
        for name, rule in (
            ("array_distinct", "first occurrences in order; one NULL kept"),
            ("array_union", "first occurrences of x then y, in order; one NULL kept"),
            ("array_intersect", "elements of x also in y, in x's order, without duplicates"),
            ("array_except", "elements of x not in y, in x's order, without duplicates"),
            ("arrays_overlap", "NULL when nothing non-NULL is common but a NULL is present"),
            ("array_histogram", "counts of the non-NULL elements"),
            ("repeat", "repeat(element, count) is an array"),
        )
    ),
    Rewrite(
        "datetime patterns",
        "date_format/date_parse/format_datetime/parse_datetime patterns must be literals",
        _literal_pattern,
    ),
    Rewrite("current_timezone", "the session time zone: UTC on Athena", _current_timezone),
    Rewrite(
        "sequence",
        "counts down when stop < start; a wrong-way step fails",
        _by_name("sequence", "trino_sequence"),
    ),
    Rewrite("replace", "an empty search string is refused", _by_name("replace", "trino_replace")),
    Rewrite(
        "json_array_length",
        "NULL when the JSON is not an array",
        _by_name("json_array_length", "trino_json_array_length"),
    ),
    Rewrite(
        "millisecond",
        "the millisecond of the second",
        _by_name("millisecond", "trino_millisecond"),
    ),
    Rewrite("year_of_week", "the ISO week's year", _by_name("year_of_week", "trino_year_of_week")),
    Rewrite("yow", "the ISO week's year", _by_name("yow", "trino_year_of_week")),
    Rewrite("reverse", "code point order; arrays too", _by_name("reverse", "trino_reverse")),
    Rewrite("upper", "code point by code point ('ß' stays 'ß')", _by_name("upper", "trino_upper")),
    Rewrite("from_unixtime", "from_unixtime(x, zone) is refused", _from_unixtime),
    Rewrite(
        "subscript",
        "a[i] past the end or a missing map key is an error; element_at(a, 0) is an error",
        _subscript,
    ),
    Rewrite(
        "avg",
        "avg of a decimal(p, s) is a decimal(p, s), half up; refused where the type is unsure",
        _avg,
    ),
    Rewrite("hamming_distance", "differing positions", _simple("hamming_distance", "hamming")),
    Rewrite("codepoint", "codepoint(c) is the Unicode code point", _simple("codepoint", "unicode")),
    *(
        Rewrite(name, f"Trino's {name}", _simple(name, f"trino_{name}"))
        for name in (
            "url_extract_protocol",
            "url_extract_host",
            "url_extract_port",
            "url_extract_path",
            "url_extract_query",
            "url_extract_fragment",
            "url_extract_parameter",
            "url_encode",
            "url_decode",
        )
    ),
)

# Constructs with no faithful translation: node type or function name -> why.
REFUSED: dict[Any, str] = {
    exp.Typeof: "typeof() (type names differ between engines)",
    exp.TableSample: "TABLESAMPLE (sampling is engine-specific)",
    exp.MatchRecognize: "MATCH_RECOGNIZE",
    "approx_set": "approx_set (HyperLogLog sketches)",
    "merge": "merge (sketch aggregation)",
    "empty_approx_set": "empty_approx_set (HyperLogLog sketches)",
    "qdigest_agg": "qdigest_agg",
    "tdigest_agg": "tdigest_agg",
    "multimap_agg": "multimap_agg",
    "approx_most_frequent": "approx_most_frequent",
    "word_stem": "word_stem",
    "normalize": "normalize (Unicode normalization)",
    "checksum": "checksum",
    "classify": "classify (machine-learning functions)",
    "learn_classifier": "learn_classifier (machine-learning functions)",
    "array_sort_desc": "array_sort_desc",
    "json_array_get": "json_array_get (deprecated in Trino)",
}


def refuse(tree: exp.Expression) -> None:
    """Raise :class:`QueryError` naming the first construct of :data:`REFUSED` in the tree.

    Every function call must also be ``exact`` in the function table
    (:mod:`lakelib.query._functions`); any other call is refused by its name.
    """
    check_calls(tree)
    check_zones(tree)
    for node in tree.walk():
        reason = REFUSED.get(type(node))
        if reason is None and isinstance(node, exp.Anonymous):
            name = node.name.lower()
            reason = REFUSED.get(name)
            if reason is None and name.startswith("st_"):
                reason = f"{name} (geospatial functions)"
        if reason is not None:
            raise QueryError(f"not supported by the local engine: {reason}")


# Trino's date_format / date_parse do not support these MySQL specifiers (datetime.html:
# "%D %U %u %V %w %X are not currently supported"); DuckDB would answer them.
_UNSUPPORTED_MYSQL = re.compile(r"%([DUuVwX])")
_MYSQL_FORMAT_FUNCTIONS = {"date_format", "date_parse"}


def _check_mysql_formats(tokens: list[Any]) -> None:
    """Refuse a date_format / date_parse pattern literal with a specifier Trino rejects.

    sqlglot converts the pattern while parsing, so the check reads the tokens as written.
    """
    for i, token in enumerate(tokens[:-1]):
        if token.text.lower() not in _MYSQL_FORMAT_FUNCTIONS:
            continue
        if tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        depth, commas = 0, 0
        for inner in tokens[i + 1 :]:
            if inner.token_type == TokenType.L_PAREN:
                depth += 1
            elif inner.token_type == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    break
            elif inner.token_type == TokenType.COMMA and depth == 1:
                commas += 1
            elif inner.token_type == TokenType.STRING and depth == 1 and commas == 1:
                bad = _UNSUPPORTED_MYSQL.search(inner.text.replace("%%", ""))
                if bad:
                    raise QueryError(
                        f"function {token.text.lower()} is not supported by the local engine "
                        f"with the specifier %{bad.group(1)} (Trino rejects it)"
                    )


_STATEMENTS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)


def parse_trino(sql: str) -> tuple[exp.Expression, int]:
    """Parse one Trino statement; ``?`` placeholders become ``:p1, :p2 ...`` in text order.

    Returns the tree and the number of placeholders. A syntax error names its position.
    """
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise QueryError("empty query")
    tree = _parse(text, sql)
    dialect = sqlglot.Dialect.get_or_raise(READ)
    tokens = dialect.tokenize(text)
    _check_mysql_formats(tokens)
    marks = [t for t in tokens if t.token_type == TokenType.PLACEHOLDER]
    if marks:
        # Named placeholders in the order the '?' tokens appear in the text; rewritten at
        # the tokenizer's own positions, so a '?' inside a string or comment is never touched.
        pieces, pos = [], 0
        for n, token in enumerate(marks, 1):
            pieces.append(text[pos : token.start])
            pieces.append(f":p{n}")
            pos = token.end + 1
        pieces.append(text[pos:])
        tree = _parse("".join(pieces), sql)
    if not isinstance(tree, _STATEMENTS) and not isinstance(tree, exp.Query):
        kind = type(tree).__name__.upper()
        raise QueryError(
            f"only queries (SELECT, WITH, VALUES) run on the local engine, not {kind} statements"
        )
    return tree, len(marks)


def _parse(text: str, original: str) -> exp.Expression:
    try:
        trees = sqlglot.parse(text, read=READ, error_level=ErrorLevel.RAISE)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        near = first.get("highlight")
        col = first.get("col")
        if isinstance(col, int) and near:
            col = max(1, col - len(near) + 1)  # sqlglot reports the token's last column
        where = f"line {first.get('line', '?')}, column {col if col is not None else '?'}"
        description = str(first.get("description") or exc).split(". ")[0]
        description = re.sub(
            r"<Token token_type: TokenType\.\w+, text: ([^,]*),.*?>", r"'\1'", description
        )
        missing = re.search(
            r"Required keyword: '\w+' missing for <class '[\w.]*?(\w+)'>", description
        )
        if missing:
            description = f"incomplete {missing.group(1).upper()} clause"
        detail = f" near {near!r}" if near else ""
        raise QueryError(f"syntax error at {where}{detail}: {description}") from None
    except TokenError as exc:
        raise QueryError(f"syntax error: {exc}") from None
    found = [t for t in trees if t is not None]
    if len(found) != 1:
        raise QueryError(f"expected one statement, got {len(found)}")
    return cast(exp.Expression, found[0])


def name_columns(tree: exp.Expression) -> None:
    """Trino's result column names: an unnamed expression is ``_col<position>``.

    DuckDB would name ``count(*)`` ``count_star()``; Athena's CSV header says ``_col0``.
    """
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    while isinstance(select, exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for position, item in enumerate(select.expressions):
        if isinstance(item, exp.Alias | exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        ):
            continue
        if isinstance(item, exp.Column | exp.Dot):
            continue
        item.replace(exp.alias_(item.copy(), f"_col{position}", quoted=True))


def rewrite(tree: exp.Expression) -> exp.Expression:
    """Apply :data:`REWRITES` bottom-up (arguments before the calls that hold them)."""
    refuse(tree)
    name_columns(tree)
    annotate(tree)
    tree = _zones(tree)
    tree = _listagg(tree)
    nodes: list[exp.Expression] = [cast(exp.Expression, n) for n in tree.walk(bfs=False)]
    for node in reversed(nodes):
        for fix in REWRITES:
            new = fix.apply(node)
            if new is not None and new is not node:
                if node is tree:
                    tree = new
                else:
                    node.replace(new)
                node = new
    return tree


def to_duckdb(tree: exp.Expression) -> str:
    """Generate DuckDB SQL; anything sqlglot cannot express faithfully is an error."""
    try:
        return tree.sql(dialect=WRITE, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        message = str(exc).splitlines()[0]
        raise QueryError(f"not supported by the local engine: {message}") from None


def translate(sql: str) -> str:
    """Trino SQL text to DuckDB SQL text (no table resolution); for tests and ``--explain``.

    >>> translate("SELECT 7 / 2")
    'SELECT TRINO_DIV(7, 2) AS "_col0"'
    """
    tree, _ = parse_trino(sql)
    if check_types(tree, {}, "default") is None:  # no catalog here: columns are untyped
        check_operand_kinds(tree, lambda column: None)
    return to_duckdb(rewrite(tree))
