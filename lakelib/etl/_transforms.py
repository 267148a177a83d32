"""Pure DataFrame -> DataFrame transforms: clean, deduplicate, conform, enrich.

No session, no reading or writing here: every function takes DataFrames and parameters and
returns a DataFrame, so each is tested on a handful of rows. Contract rules from ``lake.toml``
become Spark column expressions (no Python UDFs), with the same coercions and the same
reason texts as ingestion's checker (:mod:`lakelib.ingest._contract`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakelib.ingest import Contract

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Observation

ENVELOPE = ("_ingested_at", "_position", "_source", "_run_id", "_origin")
ARRIVAL = "_ingested_at"
# Ordinal of a record within its ingest run (read order across the run's inputs). Raw files
# landed before it existed have none: they count as -1, before any positioned record.
POSITION = "_position"
NO_POSITION = -1
# A record's place in the raw file it was read from, set by the reading job (not stored):
# between records without ``_position`` from one file (one older ingest run), the later line.
LINE = "_line"
CORRUPT = "_corrupt_record"
FILE = "_file"
REASON = "reason"
# The quarantine's copy of a rejected record as it was read.
ORIGINAL = "original"
DATE_KEYS = ("year", "month", "day")
# Arrival partition of a raw file (its folder), renamed so they never clash with event dates.
ARRIVAL_KEYS = ("arrival_year", "arrival_month", "arrival_day")
DEFAULT_AMOUNT_BANDS = (10.0, 50.0, 100.0, 500.0)
UNKNOWN = "unknown"

_SPARK_TYPES = {
    "string": "string",
    "bigint": "bigint",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$"


def raw_columns(contract: Contract) -> list[str]:
    """The source fields a raw record of ``contract`` is read with (all as text)."""
    return list(dict.fromkeys([*contract.field_names, *contract.ranges]))


def _shown(value: Column) -> Column:
    from pyspark.sql import functions as F

    text = F.concat(F.lit("'"), value, F.lit("'"))
    return F.when(F.length(text) <= 60, text).otherwise(
        F.concat(F.substring(text, 1, 57), F.lit("..."))
    )


def _number_text(value: Column, kind: str | None) -> Column:
    """A value as ingestion's reasons show it: ``98255319.75``, not ``9.825531975E7``."""
    from pyspark.sql import functions as F

    if kind in ("double", "bigint"):
        return F.regexp_replace(value.cast("decimal(38,6)").cast("string"), r"\.?0+$", "")
    return value.cast("string")


@dataclass(frozen=True)
class _Coercion:
    """How one contract type is read from text, in two steps.

    ``parse`` turns the text into an intermediate value, computed once per row into its own
    column; ``ok`` and ``typed`` are then cheap expressions over that column. (Written as one
    expression, the parse sat inside several branches of the reason's ``CASE WHEN``, where
    Spark cannot share it, and was computed up to four times per row.)
    """

    parse: Callable[[Column], Column]
    ok: Callable[[Column], Column]
    typed: Callable[[Column, Column], Column]  # (text, parsed) -> the typed value


def _coercion(kind: str | None) -> _Coercion:
    """Ingestion's coercions: numeric text is a number, ISO dates and timestamps are parsed
    (a timestamp without an offset is UTC), ``true``/``false`` in any case are booleans."""
    from pyspark.sql import functions as F

    def same(value: Column) -> Column:
        return value

    def parsed(_text: Column, value: Column) -> Column:
        return value

    def finite(value: Column) -> Column:
        return value.isNotNull() & ~F.isnan(value) & (F.abs(value) < F.lit(float("inf")))

    if kind is None or kind == "string":
        return _Coercion(same, lambda _: F.lit(True), parsed)
    if kind == "double":
        return _Coercion(lambda text: F.trim(text).cast("double"), finite, parsed)
    if kind == "bigint":
        # Parsed as a double to judge it (1e3 is an integer, 1.5 is not), typed exactly.
        return _Coercion(
            lambda text: F.trim(text).cast("double"),
            lambda n: finite(n) & (n == F.floor(n)) & (F.abs(n) < F.lit(9.2e18)),
            lambda text, _n: F.trim(text).cast("decimal(38,6)").cast("bigint"),
        )
    if kind == "boolean":
        return _Coercion(
            lambda text: F.lower(F.trim(text)),
            lambda low: low.isin("true", "false"),
            lambda _text, low: low == F.lit("true"),
        )
    if kind == "date":
        return _Coercion(
            lambda text: F.when(text.rlike(_ISO_DATE), F.to_date(text, "yyyy-MM-dd")),
            lambda value: value.isNotNull(),
            parsed,
        )
    if kind == "timestamp":
        return _Coercion(
            lambda text: F.when(F.trim(text).rlike(_ISO_TIMESTAMP), F.trim(text).cast("timestamp")),
            lambda value: value.isNotNull(),
            parsed,
        )
    raise ValueError(f"unknown contract type {kind!r}")


def check_contract(raw: DataFrame, contract: Contract) -> DataFrame:
    """Type the contract's fields and add ``reason``: ``None`` for a valid row, else why not.

    ``raw`` holds the fields as text (a JSON number read as text is its digits), plus
    optionally ``_corrupt_record`` (a line that is not a JSON object). Rules, in ingestion's
    order and wording: a required field missing or empty (``missing_required``), a value that
    does not coerce to its type (``bad_type``), a value outside its range (``out_of_range``).
    Coercion follows ingestion: numeric text is a number, ISO dates and timestamps are parsed
    (a timestamp without an offset is UTC), empty text is missing.

    Returns
    -------
    DataFrame
        the contract fields typed (a failing value is null), every other column untouched,
        and ``reason`` (string).
    """
    from pyspark.sql import functions as F

    # Ingestion's order: required fields, then typed fields, then ranged ones.
    order = list(dict.fromkeys([*contract.required, *contract.fields, *contract.ranges]))
    kinds = {name: contract.fields.get(name) for name in order}
    parsed_name = {name: f"_parsed_{name}" for name in order if kinds[name] not in (None, "string")}
    # Step 1: parse each typed field once; Spark keeps this projection apart from the next
    # (it does not inline an expensive expression that is used more than once).
    staged = raw.select(
        "*",
        *[_coercion(kinds[n]).parse(F.col(n)).alias(alias) for n, alias in parsed_name.items()],
    )
    checks: list[Column] = []
    typed: dict[str, Column] = {}
    for name in order:
        kind = kinds[name]
        text = F.col(name)
        coercion = _coercion(kind)
        parsed = F.col(parsed_name[name]) if name in parsed_name else text
        missing = text.isNull() | (text == F.lit(""))
        ok = coercion.ok(parsed)
        value = coercion.typed(text, parsed)
        if name in contract.required:
            checks.append(
                F.when(missing, F.lit(f"missing_required: field {name!r} is missing or null"))
            )
        if name in parsed_name:
            checks.append(
                F.when(
                    ~missing & ~ok,
                    F.concat(
                        F.lit(f"bad_type: field {name!r} value "),
                        _shown(text),
                        F.lit(f" is not a {kind}"),
                    ),
                )
            )
        bounds = contract.ranges.get(name)
        if bounds is not None:
            number = parsed if kind in ("double", "bigint") else value
            if bounds.minimum is not None:
                checks.append(
                    F.when(
                        ~missing & ok & (number < F.lit(bounds.minimum)),
                        F.concat(
                            F.lit(f"out_of_range: field {name!r} value "),
                            _number_text(value, kind),
                            F.lit(f" is below the minimum {bounds.minimum}"),
                        ),
                    )
                )
            if bounds.maximum is not None:
                checks.append(
                    F.when(
                        ~missing & ok & (number > F.lit(bounds.maximum)),
                        F.concat(
                            F.lit(f"out_of_range: field {name!r} value "),
                            _number_text(value, kind),
                            F.lit(f" is above the maximum {bounds.maximum}"),
                        ),
                    )
                )
        typed[name] = F.when(~missing & ok, value).cast(_SPARK_TYPES.get(kind or "", "string"))
    reason = F.coalesce(*checks) if checks else F.lit(None).cast("string")
    if CORRUPT in raw.columns:
        reason = F.when(
            F.col(CORRUPT).isNotNull(), F.lit("malformed_json: not a JSON object")
        ).otherwise(reason)
    # Keep the raw text of each field for the quarantine before typing it.
    originals = [F.col(name).alias(f"_raw_{name}") for name in typed]
    return (
        staged.select("*", *originals, reason.cast("string").alias(REASON))
        .withColumns(typed)
        .drop(*parsed_name.values())
    )


def original_text(checked: DataFrame, contract: Contract) -> Column:
    """A checked record as the quarantine keeps it: its fields as JSON text (as read, before
    typing), or the unreadable line itself."""
    from pyspark.sql import functions as F

    fields = [F.col(f"_raw_{name}").alias(name) for name in raw_columns(contract)]
    original = F.to_json(F.struct(*fields))
    if CORRUPT in checked.columns:
        original = F.coalesce(F.col(CORRUPT), original)
    return original


def rejected_rows(checked: DataFrame, contract: Contract) -> DataFrame:
    """Rows of :func:`check_contract` that failed, shaped for the quarantine.

    Columns: ``reason``, ``original`` (the record as JSON text, or the unreadable line), the
    envelope and ``_file``, and the raw file's arrival date (``arrival_year/month/day``) when
    ``checked`` has it. A job that narrowed ``checked`` to an ``original`` column (computed for
    the failed rows only, see :func:`with_original`) keeps that column.
    """
    from pyspark.sql import functions as F

    envelope = [F.col(c) for c in (*ENVELOPE, FILE, *ARRIVAL_KEYS) if c in checked.columns]
    original = F.col(ORIGINAL) if ORIGINAL in checked.columns else original_text(checked, contract)
    return checked.where(F.col(REASON).isNotNull()).select(
        F.col(REASON), original.alias(ORIGINAL), *envelope
    )


def with_original(checked: DataFrame, contract: Contract, keep: Sequence[str] = ()) -> DataFrame:
    """``checked`` narrowed to what a job carries from the check to its writes: the valid
    columns, ``keep``, ``reason`` and ``original`` (the record's text, for failed rows only;
    the per-field raw text columns go).

    Both :func:`valid_rows` and :func:`rejected_rows` accept the result.
    """
    from pyspark.sql import functions as F

    original = F.when(F.col(REASON).isNotNull(), original_text(checked, contract))
    return checked.select(
        *valid_columns(checked, contract),
        *keep,
        F.col(REASON),
        original.alias(ORIGINAL),
    )


def valid_columns(checked: DataFrame, contract: Contract) -> list[str]:
    """The columns a clean row keeps: the typed contract fields, the envelope and ``_file``."""
    return [
        *raw_columns(contract),
        *(c for c in (*ENVELOPE, FILE) if c in checked.columns),
    ]


def valid_rows(checked: DataFrame, contract: Contract, keep: Sequence[str] = ()) -> DataFrame:
    """Rows of :func:`check_contract` that passed: the typed fields, envelope and ``_file``,
    then the columns named in ``keep`` (a job's own, such as the conformed date parts)."""
    from pyspark.sql import functions as F

    return typed_envelope(
        checked.where(F.col(REASON).isNull()).select(*valid_columns(checked, contract), *keep)
    )


def typed_envelope(rows: DataFrame) -> DataFrame:
    """``_ingested_at`` as a timestamp and ``_position`` as a bigint (read as text from raw).

    Compared as timestamps, a second-precision ``_ingested_at`` (older lakes) and a
    microsecond one order by time; as text, ``...:05Z`` would sort after ``...:05.5Z``.
    """
    from pyspark.sql import functions as F

    typed = {}
    if ARRIVAL in rows.columns:
        typed[ARRIVAL] = F.col(ARRIVAL).cast("timestamp")
    if POSITION in rows.columns:
        typed[POSITION] = F.col(POSITION).cast("bigint")
    return rows.withColumns(typed) if typed else rows


def version_order(columns: Sequence[str]) -> list[Column]:
    """Newest version first, by arrival: the latest ``_ingested_at``, then the greatest
    ``_position`` in that run (none: -1), then the later raw file and the later line in it
    (``_line``, when the reader provides it), then content.

    Arrival alone decides between versions of one ``id``: within one ingest run
    ``_position`` differs for every record, across runs ``_ingested_at`` does (microseconds,
    increasing). Raw files landed before ``_position`` existed still order by file and
    line; content only makes the choice deterministic between copies that cannot be told
    apart otherwise, so the result never depends on how Spark split the input.
    """
    from pyspark.sql import functions as F

    position = (
        F.coalesce(F.col(POSITION).cast("bigint"), F.lit(NO_POSITION))
        if POSITION in columns
        else F.lit(NO_POSITION)
    )
    order = [
        F.col(ARRIVAL).cast("timestamp").desc_nulls_last(),
        position.desc(),
    ]
    if FILE in columns:
        order.append(F.col(FILE).desc_nulls_last())
    if LINE in columns:
        order.append(F.col(LINE).desc_nulls_last())
    order += [
        F.col(c).asc_nulls_first() for c in columns if c not in (ARRIVAL, POSITION, FILE, LINE)
    ]
    return order


def deduplicate(
    rows: DataFrame, key: str = "id", *, dropped: Observation | None = None
) -> DataFrame:
    """One row per ``key``: the version that arrived last (a corrected re-send wins).

    Versions are ordered by :func:`version_order`: ``_ingested_at``, then ``_position``,
    never by the record's values, so the same records give the same rows however they were
    batched into ingest runs and ETL runs.

    Parameters
    ----------
    rows:
        records with ``key``, ``_ingested_at`` (timestamp or ISO text) and optionally
        ``_position`` and ``_file``.
    key:
        the record id.
    dropped:
        if given, observes ``dropped``: the number of versions removed (read it after an
        action on the result; the ETL's reconciliation does).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(key).orderBy(*version_order(rows.columns))
    ranked = rows.withColumn("_version", F.row_number().over(window))
    if dropped is not None:
        ranked = ranked.observe(
            dropped, F.sum(F.when(F.col("_version") > 1, 1).otherwise(0)).alias("dropped")
        )
    return ranked.where(F.col("_version") == 1).drop("_version")


def conform(
    rows: DataFrame,
    *,
    event_column: str = "date",
    amount_column: str = "amount",
    amount_bands: Sequence[float] = DEFAULT_AMOUNT_BANDS,
) -> DataFrame:
    """Derived columns from the record's own event time.

    Adds ``event_date`` (date), ``year``/``month``/``day`` (zero-padded strings: the
    partition of ``processed/sales_clean``), ``weekday`` (``Mon`` .. ``Sun``), ``hour`` and
    ``amount_band`` (``"<10"``, ``"10-50"``, ..., ``">=500"`` for the default bands).
    """
    from pyspark.sql import functions as F

    when = F.col(event_column)
    bands = sorted(float(b) for b in amount_bands)
    amount = F.col(amount_column)
    label: Column = F.lit(f">={_num(bands[-1])}") if bands else F.lit("all")
    for low, high in reversed(list(zip([None, *bands[:-1]], bands, strict=True))):
        text = f"<{_num(high)}" if low is None else f"{_num(low)}-{_num(high)}"
        label = F.when(amount < F.lit(high), F.lit(text)).otherwise(label)
    # event_date first, in its own projection: the parts below read it, not the timestamp.
    dated = rows.withColumn("event_date", F.to_date(when))
    date = F.col("event_date")
    return dated.withColumns(
        {
            **date_partition(date),
            "weekday": F.element_at(F.array(*[F.lit(d) for d in _WEEKDAYS]), F.dayofweek(date)),
            "hour": F.hour(when),
            "amount_band": F.when(amount.isNull(), F.lit(None)).otherwise(label),
        }
    )


# dayofweek(): 1 = Sunday ... 7 = Saturday; the names date_format(d, "E") gives.
_WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def date_partition(date: Column) -> dict[str, Column]:
    """``year``, ``month``, ``day`` of a date as the zero-padded strings partitions use.

    Same text as ``date_format(d, "yyyy")`` / ``"MM"`` / ``"dd"``, from the date's integer
    parts (formatting with a pattern costs ~1 s per million rows on two cores).
    """
    from pyspark.sql import functions as F

    year = F.year(date)
    return {
        "year": F.when(year.between(1000, 9999), year.cast("string")).otherwise(
            F.date_format(date, "yyyy")
        ),
        "month": F.lpad(F.month(date).cast("string"), 2, "0"),
        "day": F.lpad(F.dayofmonth(date).cast("string"), 2, "0"),
    }


def _num(value: float) -> str:
    return f"{value:g}"


def latest_snapshot(reference: DataFrame, key: str) -> DataFrame:
    """The rows of the latest ingestion run of a reference source, one per ``key``.

    Each ``lake ingest customers`` run lands a full snapshot; the latest is the run with the
    greatest ``_ingested_at`` (compared as a timestamp; then ``_run_id``). Within it the row
    that came last in the run (greatest ``_position``) wins for a key given twice, then the
    first by content; rows without a key are dropped.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    stamp = F.struct(F.col(ARRIVAL).cast("timestamp"), F.col("_run_id"))
    latest = reference.select(F.max(stamp).alias("_latest"))
    rows = (
        reference.where(F.col(key).isNotNull() & (F.col(key) != ""))
        .withColumn("_stamp", stamp)
        .join(F.broadcast(latest), F.col("_stamp") == F.col("_latest"))
        .drop("_stamp", "_latest")
    )
    order = [F.col(POSITION).cast("bigint").desc_nulls_last()] if POSITION in rows.columns else []
    order += [F.col(c).asc_nulls_last() for c in rows.columns]
    window = Window.partitionBy(key).orderBy(*order)
    return rows.withColumn("_n", F.row_number().over(window)).where(F.col("_n") == 1).drop("_n")


def enrich(
    sales: DataFrame,
    customers: DataFrame | None,
    products: DataFrame | None,
) -> DataFrame:
    """Left-join reference data: customers -> region, segment, signup_date; products ->
    category, unit_price.

    A sale whose key is unknown (or whose reference has not arrived: ``None``) keeps its
    row, with ``region``/``segment``/``category`` ``"unknown"``, null ``signup_date`` /
    ``unit_price`` and ``customer_known`` / ``product_known`` false.
    ``customers`` and ``products`` are snapshots as :func:`latest_snapshot` returns them
    (typed or text; they are cast here).
    """
    from pyspark.sql import functions as F

    out = sales
    if customers is not None:
        ref = customers.select(
            F.col("customer_id").alias("_c_key"),
            F.col("region").cast("string").alias("region"),
            F.col("segment").cast("string").alias("segment"),
            F.to_date(F.col("signup_date").cast("string"), "yyyy-MM-dd").alias("signup_date"),
            F.lit(True).alias("customer_known"),
        )
        out = out.join(F.broadcast(ref), out["customer_id"] == ref["_c_key"], "left").drop("_c_key")
    else:
        out = out.withColumns(
            {
                "region": F.lit(None).cast("string"),
                "segment": F.lit(None).cast("string"),
                "signup_date": F.lit(None).cast("date"),
                "customer_known": F.lit(None).cast("boolean"),
            }
        )
    if products is not None:
        ref = products.select(
            F.col("product_id").alias("_p_key"),
            F.col("category").cast("string").alias("category"),
            F.col("unit_price").cast("double").alias("unit_price"),
            F.lit(True).alias("product_known"),
        )
        out = out.join(F.broadcast(ref), out["product_id"] == ref["_p_key"], "left").drop("_p_key")
    else:
        out = out.withColumns(
            {
                "category": F.lit(None).cast("string"),
                "unit_price": F.lit(None).cast("double"),
                "product_known": F.lit(None).cast("boolean"),
            }
        )
    return out.withColumns(
        {
            "region": F.coalesce(F.col("region"), F.lit(UNKNOWN)),
            "segment": F.coalesce(F.col("segment"), F.lit(UNKNOWN)),
            "category": F.coalesce(F.col("category"), F.lit(UNKNOWN)),
            "customer_known": F.coalesce(F.col("customer_known"), F.lit(False)),
            "product_known": F.coalesce(F.col("product_known"), F.lit(False)),
        }
    )


ENRICHED_COLUMNS = (
    "region",
    "segment",
    "signup_date",
    "customer_known",
    "category",
    "unit_price",
    "product_known",
)


def typed_reference(reference: DataFrame, contract: Contract) -> DataFrame:
    """A reference snapshot with its contract's types (bad values become null)."""
    from pyspark.sql import functions as F

    columns: dict[str, Any] = {}
    for name, kind in contract.fields.items():
        if name in reference.columns:
            text = F.col(name).cast("string")
            coercion = _coercion(kind)
            parsed = coercion.parse(text)
            value = coercion.typed(text, parsed)
            columns[name] = F.when(coercion.ok(parsed), value).cast(_SPARK_TYPES[kind])
    return reference.withColumns(columns) if columns else reference
