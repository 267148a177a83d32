"""Hive / Glue type strings: parse, render, infer from values and Arrow, widen.

Types travel as the strings Glue and Athena use (``bigint``, ``struct<a:string,b:bigint>``,
``array<string>``, ``decimal(10,2)``). Inside this module a type is a small tree:

- ``None``: nothing but nulls seen so far (rendered ``string``, as Glue does);
- ``str``: a primitive (``"bigint"``, ``"decimal(10,2)"``...);
- ``("array", element)``, ``("map", key, value)``, ``("struct", ((name, type), ...))``.

Widening is deterministic and order-independent for primitives:
``tinyint < smallint < int < bigint < double``, ``float < double``, ``date < timestamp``,
decimals grow to hold both sides, structs take the union of their fields, and any other
conflict becomes ``string`` (the only type every value can be read as).
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

from lakelib.errors import CatalogError

HiveType: TypeAlias = Any  # None | str | tuple (see module docstring)

INTEGERS = ("tinyint", "smallint", "int", "bigint")
PRIMITIVES = frozenset(
    {*INTEGERS, "float", "double", "boolean", "string", "binary", "date", "timestamp"}
)
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
# Digits an integer type needs when it meets a decimal.
_INTEGER_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}
_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3, "float": 4, "double": 5}
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def render(t: HiveType) -> str:
    """The Glue type string of a type tree; an all-null type renders as ``string``."""
    if t is None:
        return "string"
    if isinstance(t, str):
        return t
    kind = t[0]
    if kind == "array":
        return f"array<{render(t[1])}>"
    if kind == "map":
        return f"map<{render(t[1])},{render(t[2])}>"
    if not t[1]:
        # Hive has no empty struct; an object that never had a key is opaque text.
        return "string"
    return "struct<" + ",".join(f"{name}:{render(sub)}" for name, sub in t[1]) + ">"


def _split_top(text: str) -> list[str]:
    """Split ``a:int,b:struct<c:int,d:int>`` on commas outside ``<>`` and ``()``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse(text: str) -> HiveType:
    """Parse a Glue type string into a type tree; unknown spellings raise ``CatalogError``."""
    s = text.strip().lower()
    if s in PRIMITIVES:
        return s
    if s == "integer":
        return "int"
    match = _DECIMAL.fullmatch(s)
    if match:
        return f"decimal({int(match[1])},{int(match[2])})"
    if s.startswith("array<") and s.endswith(">"):
        return ("array", parse(s[6:-1]))
    if s.startswith("map<") and s.endswith(">"):
        parts = _split_top(s[4:-1])
        if len(parts) == 2:
            return ("map", parse(parts[0]), parse(parts[1]))
    if s.startswith("struct<") and s.endswith(">"):
        fields = []
        for part in _split_top(s[7:-1]):
            name, sep, sub = part.partition(":")
            if not sep or not name:
                raise CatalogError(f"bad struct field {part!r} in type {text!r}")
            fields.append((name.strip(), parse(sub)))
        return ("struct", tuple(fields))
    if s.startswith(("char(", "varchar(")):
        return "string"
    raise CatalogError(f"unknown Glue/Hive type {text!r}")


def normalize(text: str) -> str:
    """A type string in canonical spelling (lower case, no spaces)."""
    return render(parse(text))


def of_value(value: Any) -> HiveType:
    """The type of one decoded JSON value (``bool`` before ``int``: ``True`` is an ``int``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        # JSON has no 32-bit integer; bigint avoids a schema change when values grow.
        return "bigint" if _BIGINT_MIN <= value <= _BIGINT_MAX else "decimal(38,0)"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        element: HiveType = None
        for item in value:
            element = widen(element, of_value(item))
        return ("array", element)
    if isinstance(value, dict):
        fields: HiveType = ("struct", ())
        for key, item in value.items():
            fields = widen(fields, ("struct", ((str(key).lower(), of_value(item)),)))
        return fields
    return "string"


def of_arrow(arrow_type: Any) -> HiveType:
    """The Glue type of a pyarrow type (what a Parquet footer declares)."""
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_dictionary(t):
        return of_arrow(t.value_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "decimal(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return ("array", of_arrow(t.value_type))
    if pa.types.is_map(t):
        return ("map", of_arrow(t.key_type), of_arrow(t.item_type))
    if pa.types.is_struct(t):
        return (
            "struct",
            tuple(
                (t.field(i).name.lower(), of_arrow(t.field(i).type)) for i in range(t.num_fields)
            ),
        )
    if pa.types.is_null(t):
        return None
    return "string"


def _decimal_parts(t: str) -> tuple[int, int] | None:
    match = _DECIMAL.fullmatch(t)
    if match:
        return int(match[1]), int(match[2])
    if t in _INTEGER_DIGITS:
        return _INTEGER_DIGITS[t], 0
    return None


def _widen_primitive(a: str, b: str) -> str:
    if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
        if {a, b} <= {"float", *INTEGERS} and "float" in (a, b):
            return "double"  # a float cannot hold every int exactly
        return a if _NUMERIC_RANK[a] >= _NUMERIC_RANK[b] else b
    da, db = _decimal_parts(a), _decimal_parts(b)
    if da and db:
        scale = max(da[1], db[1])
        digits = max(da[0] - da[1], db[0] - db[1])
        return f"decimal({min(38, digits + scale)},{scale})"
    if (da and b in {"float", "double"}) or (db and a in {"float", "double"}):
        return "double"
    if {a, b} == {"date", "timestamp"}:
        return "timestamp"
    return "string"


def widen(a: HiveType, b: HiveType) -> HiveType:
    """The narrowest type that can hold values of both ``a`` and ``b``."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if isinstance(a, str) and isinstance(b, str):
        return _widen_primitive(a, b)
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "array":
            return ("array", widen(a[1], b[1]))
        if a[0] == "map":
            return ("map", widen(a[1], b[1]), widen(a[2], b[2]))
        fields = dict(a[1])
        for name, sub in b[1]:
            fields[name] = widen(fields[name], sub) if name in fields else sub
        return ("struct", tuple(fields.items()))
    return "string"


def widen_text(a: str, b: str) -> str:
    """:func:`widen` on type strings."""
    return render(widen(parse(a), parse(b)))


def parquet_reads_as(physical: str, declared: str) -> bool:
    """Whether a Parquet column written as ``physical`` is readable as ``declared``.

    Athena (Trino) and Spark promote integers to wider integers and ``float`` to ``double``
    in Parquet files; a column missing from a file reads as null. Anything else (a
    ``bigint`` column declared ``string``, say) fails the query, so the crawler reports it.
    """
    p, d = parse(physical), parse(declared)
    if p == d or p is None:
        return True
    if isinstance(p, str) and isinstance(d, str):
        if p in _NUMERIC_RANK and d in _NUMERIC_RANK and p in INTEGERS and d in INTEGERS:
            return _NUMERIC_RANK[p] <= _NUMERIC_RANK[d]
        return (p, d) == ("float", "double")
    if isinstance(p, tuple) and isinstance(d, tuple) and p[0] == d[0]:
        if p[0] == "array":
            return parquet_reads_as(render(p[1]), render(d[1]))
        if p[0] == "map":
            return parquet_reads_as(render(p[1]), render(d[1])) and parquet_reads_as(
                render(p[2]), render(d[2])
            )
        declared_fields = dict(d[1])
        return all(
            name in declared_fields and parquet_reads_as(render(sub), render(declared_fields[name]))
            for name, sub in p[1]
        )
    return False
