"""Per-source data contracts from ``lake.toml``: required fields, types, ranges.

::

    [sources.sales]
    required = ["id", "date", "amount", "customer_id", "product_id"]
    fields = { id = "string", date = "timestamp", amount = "double", channel = "string" }
    ranges = { amount = { min = 0.01, max = 50000 } }

Types and their safe coercions (anything else fails the record, with the reason):

- ``string``: text; integers are written as text (``123`` -> ``"123"``).
- ``bigint``: integers, integral floats (``3.0``) and integer text (``"12"``).
- ``double``: numbers and numeric text (``"12.50"`` -> ``12.5``); NaN and infinities fail.
- ``boolean``: ``true/false`` and the text ``"true"/"false"`` (any case).
- ``date``: ISO dates ``YYYY-MM-DD``; kept as that text.
- ``timestamp``: ISO 8601 date-times (``Z`` or an offset; none means UTC); written back as
  ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC.

Empty text counts as missing. Fields not in ``fields`` pass through untouched.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from lakelib.errors import ConfigError
from lakelib.sources import Record

TYPES = ("string", "bigint", "double", "boolean", "date", "timestamp")
Coercer = Callable[[Any], Any]


class _Invalid(Exception):
    pass


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Invalid


def _bigint(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Invalid from None
    raise _Invalid


def _double(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise _Invalid from None
    else:
        raise _Invalid
    if not math.isfinite(result):
        raise _Invalid
    return result


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        raise _Invalid
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise _Invalid from None
    raise _Invalid


def _timestamp(value: Any) -> str:
    if type(value) is str and len(value) == 20 and value[10] == "T" and value[19] == "Z":
        # Already canonical (the common case): validating it is enough.
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid from None
        return value
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid from None
    else:
        raise _Invalid
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = moment.replace(tzinfo=None).isoformat()
    return f"{text}Z"


# Values of these Python types need no coercion (except NaN and infinite floats, which
# ``_double`` refuses).
_INF = math.inf
_ALREADY: Mapping[str, type] = {"string": str, "double": float, "boolean": bool}

COERCERS: Mapping[str, Coercer] = {
    "string": _string,
    "bigint": _bigint,
    "double": _double,
    "boolean": _boolean,
    "date": _date,
    "timestamp": _timestamp,
}


@dataclass(frozen=True)
class Range:
    minimum: Any = None
    maximum: Any = None


@dataclass(frozen=True)
class Contract:
    """What a valid record of one source looks like; :meth:`check` enforces it."""

    source: str
    required: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)

    @property
    def field_names(self) -> list[str]:
        names = list(self.fields)
        return names + [name for name in self.required if name not in self.fields]

    @classmethod
    def from_config(cls, source: str, spec: Mapping[str, Any]) -> Contract:
        where = f"[sources.{source}]"
        required = spec.get("required", [])
        if not isinstance(required, list) or not all(isinstance(x, str) for x in required):
            raise ConfigError(f"{where} required must be a list of field names")
        fields = spec.get("fields", {})
        if not isinstance(fields, Mapping):
            raise ConfigError(f"{where} fields must be a table of name = type")
        for name, kind in fields.items():
            if kind not in TYPES:
                raise ConfigError(
                    f"{where} field {name!r}: unknown type {kind!r} (use {', '.join(TYPES)})"
                )
        ranges: dict[str, Range] = {}
        for name, bounds in dict(spec.get("ranges", {})).items():
            if not isinstance(bounds, Mapping) or not set(bounds) <= {"min", "max"}:
                raise ConfigError(f"{where} ranges.{name} must be {{ min = ..., max = ... }}")
            kind = fields.get(name)
            coerce = COERCERS.get(kind or "", lambda v: v)
            try:
                low = coerce(bounds["min"]) if "min" in bounds else None
                high = coerce(bounds["max"]) if "max" in bounds else None
            except _Invalid:
                raise ConfigError(f"{where} ranges.{name}: bounds are not {kind} values") from None
            ranges[name] = Range(low, high)
        return cls(source, tuple(required), dict(fields), ranges)

    def compile(self) -> Callable[[Record], str | None]:
        """A fast checker: coerces the record in place, returns ``None`` or the reason it fails."""
        steps: list[tuple[str, Coercer | None, type | None, Any, Any, bool, str | None]] = []
        names = list(dict.fromkeys([*self.required, *self.fields, *self.ranges]))
        for name in names:
            kind = self.fields.get(name)
            bounds = self.ranges.get(name, Range())
            steps.append(
                (
                    name,
                    COERCERS[kind] if kind else None,
                    _ALREADY.get(kind or ""),
                    bounds.minimum,
                    bounds.maximum,
                    name in self.required,
                    kind,
                )
            )

        # The loop below runs once per field of every record ingested: it avoids calls where
        # a value already has its type (``type(v) is str`` for a string field).
        def check(record: Record) -> str | None:
            for name, coerce, already, low, high, required, kind in steps:
                value = record.get(name)
                if value is None or value == "":
                    if required:
                        return f"missing_required: field {name!r} is missing or null"
                    if value == "":
                        record[name] = None
                    continue
                if coerce is not None and (
                    type(value) is not already or (already is float and not -_INF < value < _INF)  # type: ignore[operator]
                ):
                    try:
                        value = coerce(value)
                    except _Invalid:
                        shown = repr(value)
                        shown = shown if len(shown) <= 60 else shown[:57] + "..."
                        return f"bad_type: field {name!r} value {shown} is not a {kind}"
                    record[name] = value
                if low is not None and value < low:
                    return (
                        f"out_of_range: field {name!r} value {value!r} is below the minimum {low}"
                    )
                if high is not None and value > high:
                    return (
                        f"out_of_range: field {name!r} value {value!r} is above the maximum {high}"
                    )
            return None

        return check


def load_contract(source: str, sources: Mapping[str, Any]) -> Contract:
    """The contract of ``source`` from the ``[sources]`` table of ``lake.toml``.

    Raises
    ------
    ConfigError
        when ``source`` is not declared there: a typo (``salse``) or a run outside the
        project folder would otherwise land data that nothing validates. The message lists
        the declared sources. Landing without a contract is an explicit choice
        (``lake ingest --no-contract``, ``ingest(..., validate=False)``).
    """
    spec = sources.get(source)
    if spec is None:
        declared = (
            f"lake.toml declares {', '.join(sorted(sources))}"
            if sources
            else "no lake.toml with [sources] was found"
        )
        close = difflib.get_close_matches(source, list(sources), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown source {source!r}{hint}: {declared}; add [sources.{source}] "
            "or land it unvalidated with --no-contract"
        )
    if not isinstance(spec, Mapping):
        raise ConfigError(f"[sources.{source}] must be a table")
    return Contract.from_config(source, spec)


def source_headers(source: str, sources: Mapping[str, Any]) -> dict[str, str]:
    """HTTP headers declared for ``source``: ``[sources.<source>] headers = { ... }``.

    ::

        [sources.sales]
        headers = { Authorization = "env:SALES_API_TOKEN" }   # or "secretsmanager:<id>"

    A credential-like header (``Authorization``, ``X-Api-Key``, ...) must be a reference,
    since ``lake.toml`` is committed: a literal value is a :class:`ConfigError`.
    """
    from lakelib.sources import is_reference, is_secret_name

    spec = sources.get(source)
    headers = spec.get("headers", {}) if isinstance(spec, Mapping) else {}
    where = f"[sources.{source}] headers"
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError(f'{where} must be a table of Name = "value"')
    for name, value in headers.items():
        if is_secret_name(name) and not is_reference(value):
            raise ConfigError(
                f"{where}.{name}: a credential written in lake.toml is committed with it; "
                'use "env:<VARIABLE>" or "secretsmanager:<secret-id>"'
            )
    return dict(headers)


def reason_code(reason: str) -> str:
    """``"bad_type: field 'amount' ..."`` -> ``"bad_type"`` (summaries count by code)."""
    return reason.split(":", 1)[0]
