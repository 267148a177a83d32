"""DuckDB macros that give Trino's meaning to functions where DuckDB's differs.

The translator (:mod:`lakelib.query._trino`) rewrites a Trino call into a ``trino_*`` macro
when the answer depends on the argument's type, which only DuckDB knows at bind time:
macros with typed parameters are overloads DuckDB picks per call (a ``DATE`` argument takes
the ``DATE`` body). Each macro names the Trino rule it implements. They are installed once
per connection by :func:`install_macros`; nothing runs at import time.
"""

from __future__ import annotations

from typing import Any

# Integer types whose values a cast to an integer type must keep exactly (no DOUBLE detour).
_EXACT = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT")

# Java's String.trim() (Trino's text-to-number casts) removes every character up to U+0020.
_WS = r"[\x00-\x20]"
_TRIM = f"regexp_replace(s, '^{_WS}+|{_WS}+$', '', 'g')"
_NUMBER = r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?"
# Text a cast cannot read: Trino fails (TRY_CAST gives NULL), with Trino's message.
_FAIL = "WHEN s IS NULL OR safe THEN NULL ELSE error('Cannot cast ''' || s || ''' to ' || t) END"

_SUBSTR_EDGE = (
    "'function substr is not supported by the local engine with a negative length or a "
    "negative start before the beginning of the string'"
)

_TS_TEXT = (
    "CASE WHEN p IS NULL THEN error('CAST(timestamp AS varchar) is not supported by the local "
    "engine when the timestamp is computed from a literal of another precision') "
    "WHEN p = 0 THEN strftime(x, '%Y-%m-%d %H:%M:%S') "
    "ELSE left(strftime(x, '%Y-%m-%d %H:%M:%S.%f'), 20 + p) END"
)

_URL = r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/?#]*@)?"

MACROS: tuple[str, ...] = (
    # Trino: integer / integer is integer division truncated toward zero (-7 / 2 = -3);
    # DuckDB's "/" always returns DOUBLE. "//" truncates and fails on a zero divisor, as Trino.
    # A decimal operand whose type the translator could not see (a column) is refused:
    # Trino's quotient has the larger scale of the two (1 / 3.0 = 0.3), DuckDB's is a double.
    "trino_div(a BIGINT, b BIGINT) AS a // b, (a HUGEINT, b HUGEINT) AS a // b, "
    "(a, b) AS CASE WHEN (typeof(a) LIKE 'DECIMAL%' AND typeof(b) NOT IN ('DOUBLE', 'FLOAT')) "
    "OR (typeof(b) LIKE 'DECIMAL%' AND typeof(a) NOT IN ('DOUBLE', 'FLOAT')) THEN error("
    "'division of a decimal column is not supported by the local engine: Trino gives the "
    "quotient the larger scale of the two operands (1 / 3.0 = 0.3); cast one side to double') "
    "ELSE a / b END",
    # Trino decimal division: the unscaled quotient a * k / b rounded half away from zero
    # (k = 10^(result scale - scale of a + scale of b)); the translator types and scales it.
    "trino_decimal_quotient(a, b, k) AS CASE WHEN b = 0 THEN error('Division by zero') "
    "ELSE (a * k) // b + CASE WHEN 2 * abs((a * k) % b) >= abs(b) THEN sign(a * k) * sign(b) "
    "ELSE 0 END END",
    # An unscaled integer as decimal text at scale s (-5, 2 -> '-0.05'), for an exact CAST.
    # (lpad also truncates: the digits are padded to at least s + 1, never cut.)
    "trino_point(d, s) AS left(d, length(d) - s) || '.' || right(d, s)",
    "trino_scaled_text(q, s) AS CASE WHEN s = 0 THEN CAST(q AS VARCHAR) ELSE "
    "(CASE WHEN q < 0 THEN '-' ELSE '' END) || trino_point(lpad(CAST(abs(q) AS VARCHAR), "
    "CAST(greatest(length(CAST(abs(q) AS VARCHAR)), s + 1) AS INTEGER), '0'), s) END",
    # Trino: CAST(double AS integer) rounds half away from zero (2.5 -> 3); DuckDB rounds half
    # to even (2.5 -> 2). Integer arguments pass through untouched. Text follows Java's
    # Integer/Long.parseLong after trim() (Trino's VarcharOperators): a sign and digits only,
    # so '1e3' and '1.5' fail (TRY_CAST: NULL) where DuckDB answers 1000 and 2.
    f"trino_int_text(s, t, safe) AS CASE WHEN regexp_matches(s, '^{_WS}*[+-]?[0-9]+{_WS}*$') "
    f"THEN {_TRIM} "
    r"WHEN regexp_matches(regexp_replace(s, '[0-9]', '', 'g'), '\p{Nd}') THEN error('CAST of "
    "text with non-ASCII digits to ' || t || ' is not supported by the local engine') "
    f"{_FAIL}",
    # Decimals round exactly (a DOUBLE overload would take them through a double).
    "trino_cast_round(x VARCHAR, t, safe) AS trino_int_text(x, t, safe), "
    + ", ".join(f"(x {t}, t, safe) AS x" for t in (*_EXACT, "BOOLEAN"))
    + ", (x, t, safe) AS round(x)",
    # Text to DOUBLE / REAL: Java's Double.parseDouble after trim(). Plain and exponent forms,
    # NaN and [+-]Infinity pass; Java-only forms (1.5d, hex) are refused; the rest fail
    # (TRY_CAST: NULL), where DuckDB would also take 'inf' or '1_000'.
    f"trino_double_text(s, t, safe) AS CASE WHEN regexp_matches(s, '^{_WS}*({_NUMBER}|"
    f"[+-]?Infinity|NaN){_WS}*$') THEN {_TRIM} "
    f"WHEN regexp_matches(s, '^{_WS}*([+-]?[0-9.]+([eE][+-]?[0-9]+)?[fFdD]|[+-]?0[xX]|[+-]NaN)') "
    "THEN error('CAST of ''' || s || ''' to ' || t || ' is not supported by the local engine: "
    f"Java number syntax') {_FAIL}",
    "trino_cast_double(x VARCHAR, t, safe) AS trino_double_text(x, t, safe), (x, t, safe) AS x",
    # Text to DECIMAL: digits with an optional fraction (trimmed), rounded half up to the
    # scale; an exponent is refused (not checked against Trino's parser).
    "trino_decimal_text(s, t, safe) AS CASE WHEN regexp_matches(s, "
    f"'^{_WS}*[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+){_WS}*$') THEN {_TRIM} "
    f"WHEN regexp_matches(s, '^{_WS}*{_NUMBER}{_WS}*$') THEN error('CAST of text with an "
    f"exponent to ' || t || ' is not supported by the local engine') {_FAIL}",
    "trino_cast_decimal(x VARCHAR, t, safe) AS trino_decimal_text(x, t, safe), (x, t, safe) AS x",
    # Text to DATE / TIMESTAMP: the canonical forms pass; other date-like text (one-digit
    # fields, a 'T', spaces around) is refused, not guessed; the rest fail (TRY_CAST: NULL).
    "trino_date_text(s, t, safe) AS CASE WHEN (t = 'DATE' AND regexp_matches(s, "
    "'^[0-9]{4}-[0-9]{2}-[0-9]{2}$')) OR (t = 'TIMESTAMP' AND regexp_matches(s, "
    "'^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?$')) THEN s "
    r"WHEN regexp_matches(s, '^\s*[+-]?[0-9]+-[0-9]') THEN error('CAST of ''' || s || ''' to ' "
    "|| t || ' is not supported by the local engine: only YYYY-MM-DD[ HH:MM[:SS[.fff]]] is') "
    f"{_FAIL}",
    "trino_cast_date(x VARCHAR, t, safe) AS trino_date_text(x, t, safe), (x, t, safe) AS x",
    # Trino: round(x, d) keeps x's type, so a DECIMAL keeps its scale (round(1.25, 1) is
    # 1.30); DuckDB narrows the scale to d. Adding x - x (zero at x's scale) restores it.
    # (A typed DECIMAL parameter would cast every decimal to DECIMAL(18, 3): test the type.)
    # Trino's decimal rounding to negative places has edge rules of its own: refused.
    "trino_round(x, d) AS CASE WHEN typeof(x) LIKE 'DECIMAL%' AND d < 0 THEN error('round of "
    "a decimal to negative decimal places is not supported by the local engine') "
    "WHEN typeof(x) LIKE 'DECIMAL%' THEN round(x, d) + (x - x) ELSE round(x, d) END",
    # Trino: a subscript past the end of an array, below 1, or a key absent from a map is an
    # error (element_at answers NULL instead); DuckDB's [] answers NULL for all of them.
    # A text subscript is a map key; any other is an array index (a map with non-text keys
    # is refused: its keys cannot be told from positions without binding both ways).
    "trino_subscript(a, i VARCHAR) AS CASE WHEN a IS NULL OR i IS NULL THEN a[i] "
    "WHEN contains(map_keys(a), i) THEN a[i] ELSE error('Key not present in map: ' || i) END, "
    "(a, i) AS CASE WHEN typeof(a) LIKE 'MAP%' THEN error('a subscript of a map whose keys "
    "are not text is not supported by the local engine; use element_at') "
    "WHEN a IS NULL OR i IS NULL THEN a[i] "
    "WHEN i < 1 THEN error('SQL array indices start at 1') "
    "WHEN i > cardinality(a) THEN error('Array subscript must be less than or equal to "
    "array length: ' || CAST(i AS VARCHAR) || ' > ' || CAST(cardinality(a) AS VARCHAR)) "
    "ELSE a[i] END",
    "trino_element_at(a, i) AS CASE WHEN typeof(a) NOT LIKE 'MAP%' AND TRY_CAST(i AS BIGINT) "
    "= 0 THEN error('SQL array indices start at 1') ELSE a[i] END",
    # Trino: millisecond(x) is the millisecond of the second (DuckDB's counts the seconds too:
    # 5678 for 05.678); year_of_week is the ISO week's year.
    "trino_millisecond(x) AS millisecond(x) % 1000",
    "trino_year_of_week(x) AS isoyear(x)",
    # Trino reverses code points; DuckDB keeps grapheme clusters together ('e' + U+0301).
    # reverse of an ARRAY reverses its elements.
    "trino_reverse(s VARCHAR) AS coalesce(list_aggr(list_reverse(string_split(s, '')), "
    "'string_agg', ''), CASE WHEN s IS NOT NULL THEN '' END), (s) AS list_reverse(s)",
    # Trino: avg of a DECIMAL is a DECIMAL of the same scale; DuckDB's is a DOUBLE. The
    # argument passes through unless it is a decimal, which is refused by name (a scalar
    # check inside the aggregate, so it works for GROUP BY and OVER alike).
    "trino_not_decimal(x, f) AS CASE WHEN typeof(x) LIKE 'DECIMAL%' THEN error('function ' || "
    "f || ' of a decimal is not supported by the local engine: Trino keeps the decimal type "
    "(DuckDB answers a double); cast the argument to double') ELSE x END",
    # Trino: DATE + INTERVAL (and date_add on a DATE) is a DATE; a unit below a day is an
    # error. DuckDB returns a TIMESTAMP.
    "trino_plus_interval(d DATE, i INTERVAL) AS CASE WHEN d + i <> CAST(d + i AS DATE) "
    "THEN error('interval unit is not valid for a DATE value') ELSE CAST(d + i AS DATE) END, "
    "(d, i) AS d + i",
    "trino_minus_interval(d DATE, i INTERVAL) AS CASE WHEN d - i <> CAST(d - i AS DATE) "
    "THEN error('interval unit is not valid for a DATE value') ELSE CAST(d - i AS DATE) END, "
    "(d, i) AS d - i",
    # Trino: date_trunc keeps the argument's type (a DATE stays a DATE).
    "trino_date_trunc(u, d DATE) AS CAST(date_trunc(u, d) AS DATE), (u, d) AS date_trunc(u, d)",
    # Trino: regexp_extract is NULL when the pattern does not match (DuckDB: '').
    "trino_regexp_extract(s, p, g) AS CASE WHEN regexp_matches(s, p) "
    "THEN regexp_extract(s, p, g) END",
    # Trino: json_extract_scalar is NULL when the path points at an object or an array.
    "trino_json_extract_scalar(j, p) AS CASE WHEN json_type(json_extract(j, p)) "
    "IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END",
    # Trino: json_array_length is NULL for JSON that is not an array (DuckDB: 0).
    "trino_json_array_length(j) AS CASE WHEN json_type(j) = 'ARRAY' "
    "THEN CAST(json_array_length(j) AS BIGINT) END",
    # Trino: split_part is NULL when the index is past the last field (DuckDB: '').
    "trino_split_part(s, d, i) AS CASE WHEN i > len(string_split(s, d)) THEN NULL "
    "ELSE split_part(s, d, i) END",
    # Trino: substr(s, 0) is ''; DuckDB treats start 0 as 1.
    # A negative start before the beginning, or a negative length, is refused: DuckDB counts
    # backwards ('abc', 2, -1 -> 'a') and Trino's answer is not in its documentation.
    "trino_substr(s, p) AS CASE WHEN p = 0 THEN '' WHEN p < 0 AND -p > length(s) THEN "
    f"error({_SUBSTR_EDGE}) ELSE substring(s, p) END, "
    "(s, p, n) AS CASE WHEN p = 0 THEN '' WHEN n < 0 OR (p < 0 AND -p > length(s)) THEN "
    f"error({_SUBSTR_EDGE}) ELSE substring(s, p, n) END",
    # Trino: sequence(a, b) counts down when b < a (DuckDB: empty); a step that moves away
    # from stop, or a zero step, is an error (DuckDB: empty).
    "trino_sequence(a, b) AS CASE WHEN a <= b THEN generate_series(a, b) "
    "ELSE generate_series(a, b, -1) END, "
    "(a, b, s) AS CASE WHEN a + s = a THEN error('step must not be zero') "
    "WHEN (a < b AND a + s < a) OR (a > b AND a + s > a) THEN error('sequence stop value "
    "should be greater than or equal to start value if step is greater than zero otherwise "
    "stop should be less than or equal to start') ELSE generate_series(a, b, s) END",
    # Java's String.replace inserts at every position for an empty search; DuckDB does not.
    "trino_replace(s, f, r) AS CASE WHEN f = '' AND r <> '' THEN error('function replace is "
    "not supported by the local engine with an empty search string') ELSE replace(s, f, r) END",
    # An empty delimiter splits differently in each engine: refused.
    "trino_delimiter(d, f) AS CASE WHEN d = '' THEN error('function ' || f || ' is not "
    "supported by the local engine with an empty delimiter') ELSE d END",
    # string.html: lpad / rpad sizes must not be negative (DuckDB answers '').
    "trino_pad_size(n, f) AS CASE WHEN n < 0 THEN error('Target length must be in the range "
    "[0..2147483647]') ELSE n END",
    # A pattern that can match the empty string places its matches differently in Java
    # (Trino) and RE2 (DuckDB) when every match is wanted: refused.
    "trino_pattern(p, f) AS CASE WHEN regexp_matches('', p) THEN error('function ' || f || "
    "' is not supported by the local engine with a pattern that matches the empty string') "
    "ELSE p END",
    # Trino upper-cases code point by code point (Java's simple case mapping): 'ß' stays 'ß';
    # DuckDB answers 'ẞ'.
    "trino_upper(s) AS CASE WHEN contains(s, 'ß') THEN list_aggr(list_transform("
    "string_split(s, ''), lambda c: CASE WHEN c = 'ß' THEN c ELSE upper(c) END), "
    "'string_agg', '') ELSE upper(s) END",
    # Trino: slice(array, start, length); a negative start counts from the end; start 0 fails.
    "trino_slice(a, s, n) AS CASE WHEN s > 0 THEN list_slice(a, s, s + n - 1) "
    "WHEN s < 0 THEN list_slice(a, len(a) + s + 1, len(a) + s + n) "
    "ELSE error('SQL array indices start at 1') END",
    # Trino: array_max / array_min are NULL when the array holds a NULL.
    "trino_array_max(a) AS CASE WHEN len(list_filter(a, lambda e: e IS NULL)) > 0 THEN NULL "
    "ELSE list_max(a) END",
    "trino_array_min(a) AS CASE WHEN len(list_filter(a, lambda e: e IS NULL)) > 0 THEN NULL "
    "ELSE list_min(a) END",
    # array.html: array_first / array_last are NULL for an empty array.
    "trino_array_first(a) AS a[1]",
    "trino_array_last(a) AS a[-1]",
    # array_remove keeps NULL elements and is NULL for a NULL element to remove
    # (ArrayRemoveFunction: null elements are kept, the value is never null). It compares
    # with Trino's =, under which NaN equals nothing: NaN elements stay (DuckDB's <> holds
    # NaN equal to NaN, so they are kept by name here).
    "trino_array_remove(a, v) AS CASE WHEN v IS NULL THEN NULL "
    "ELSE list_filter(a, lambda e: e IS NULL OR e <> v OR "
    "(typeof(e) IN ('DOUBLE', 'FLOAT') AND isnan(TRY_CAST(e AS DOUBLE)))) END",
    # trim_array(a, n): n elements off the end; n past the cardinality (or negative) fails.
    "trino_trim_array(a, n) AS CASE WHEN n < 0 OR n > len(a) THEN error('size must not "
    "exceed array cardinality ' || len(a) || ': ' || n) ELSE a[1:len(a) - n] END",
    # nth_value's offset starts at 1; zero or negative fails (window.html).
    "trino_offset(n) AS CASE WHEN n <= 0 THEN error('Offset must be at least 1') ELSE n END",
    # Trino: array_position is 0 when the element is absent (DuckDB: NULL).
    "trino_array_position(a, x) AS CASE WHEN a IS NULL OR x IS NULL THEN NULL "
    "ELSE coalesce(list_position(a, x), 0) END",
    # Trino: contains is NULL when the element is absent but the array holds a NULL.
    "trino_contains(a, x) AS CASE WHEN a IS NULL OR x IS NULL THEN NULL "
    "WHEN list_contains(a, x) THEN true "
    "WHEN len(list_filter(a, lambda e: e IS NULL)) > 0 THEN NULL ELSE false END",
    # Trino's set-like array functions keep each element's first occurrence, in order, and
    # treat NULL as a value (one NULL kept); DuckDB's list_distinct drops NULLs and reorders.
    "trino_has(a, x) AS len(list_filter(a, lambda y: y IS NOT DISTINCT FROM x)) > 0",
    "trino_array_distinct(a) AS list_filter(a, lambda x, i: NOT trino_has(list_slice(a, 1, i - 1), "
    "x))",
    "trino_array_union(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "ELSE trino_array_distinct(list_concat(a, b)) END",
    "trino_array_intersect(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "ELSE trino_array_distinct(list_filter(a, lambda x: trino_has(b, x))) END",
    "trino_array_except(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "ELSE trino_array_distinct(list_filter(a, lambda x: NOT trino_has(b, x))) END",
    # Trino: true when a non-NULL element is common; else NULL if either array holds a NULL.
    "trino_arrays_overlap(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "WHEN len(list_filter(a, lambda x: x IS NOT NULL AND list_contains(b, x))) > 0 THEN true "
    "WHEN trino_has(a, NULL) OR trino_has(b, NULL) THEN NULL ELSE false END",
    # Trino: array_histogram counts the non-NULL elements ({} when there are none).
    "trino_array_histogram(a) AS map_from_entries(list_transform(trino_array_distinct("
    "list_filter(a, lambda x: x IS NOT NULL)), lambda k: {'key': k, 'value': "
    "CAST(len(list_filter(a, lambda y: y = k)) AS BIGINT)}))",
    # Trino: repeat(element, count) is an ARRAY of count copies (DuckDB's repeat is a string).
    "trino_repeat(x, n) AS CASE WHEN n < 0 THEN error('count argument of repeat function "
    "must be greater than or equal to 0') ELSE list_transform(range(n), lambda i: x) END",
    # Trino: any_match / all_match / none_match over a list of predicate results, with
    # three-valued logic (a NULL result makes the answer NULL unless a decisive value exists).
    "trino_any_true(l) AS CASE WHEN list_contains(l, true) THEN true "
    "WHEN len(list_filter(l, lambda e: e IS NULL)) > 0 THEN NULL ELSE false END",
    "trino_all_true(l) AS CASE WHEN list_contains(l, false) THEN false "
    "WHEN len(list_filter(l, lambda e: e IS NULL)) > 0 THEN NULL ELSE true END",
    # Trino: CAST(double AS varchar) renders scientific notation (1.25E1); refuse, never
    # return DuckDB's '12.5' as if it were Trino's answer.
    # Timestamps print p fraction digits (the translator knows p: 3 for a column, the text's
    # for a literal); DuckDB drops zero fractions ('2024-01-02 03:04:05' for timestamp(3)).
    f"trino_to_varchar(x TIMESTAMP, p) AS {_TS_TEXT}, "
    f"(x TIMESTAMPTZ, p) AS {_TS_TEXT} || ' UTC', "
    "(x DATE, p) AS CAST(x AS VARCHAR), (x VARCHAR, p) AS x, "
    "(x, p) AS CASE WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN error("
    "'CAST(double AS varchar) is not supported by the local engine: Trino renders doubles in "
    "scientific notation (1.25E1); use format() or CAST(CAST(x AS decimal(p, s)) AS varchar)') "
    "ELSE CAST(x AS VARCHAR) END",
    # Time zones (AT TIME ZONE, at_timezone, with_timezone): the instant of a zoned value as
    # a TIMESTAMPTZ. A timestamp without zone is read in the session zone (UTC, as Athena's).
    "trino_zone_instant(x) AS CASE WHEN typeof(x) LIKE 'TIMESTAMP%' THEN CAST(x AS TIMESTAMPTZ) "
    "ELSE error('AT TIME ZONE / at_timezone take a timestamp (Trino: Type of value must be a "
    "time or timestamp with or without time zone)') END",
    # with_timezone(ts, zone): the wall-clock time ts in zone. A time skipped by a DST change
    # moves forward by the gap, and a time that happens twice takes the earlier offset (Java's
    # ZonedDateTime.ofLocal, which Trino uses); ICU alone would take the later one.
    "trino_with_zone(ts, z) AS CASE WHEN typeof(ts) NOT LIKE 'TIMESTAMP%' OR typeof(ts) = "
    "'TIMESTAMP WITH TIME ZONE' THEN error('function with_timezone takes a timestamp without "
    "time zone') "
    "WHEN timezone(z, timezone(z, CAST(ts AS TIMESTAMP)) - INTERVAL 1 HOUR) = "
    "CAST(ts AS TIMESTAMP) THEN timezone(z, CAST(ts AS TIMESTAMP)) - INTERVAL 1 HOUR "
    "WHEN timezone(z, timezone(z, CAST(ts AS TIMESTAMP)) - INTERVAL 30 MINUTE) = "
    "CAST(ts AS TIMESTAMP) THEN timezone(z, CAST(ts AS TIMESTAMP)) - INTERVAL 30 MINUTE "
    "ELSE timezone(z, CAST(ts AS TIMESTAMP)) END",
    # CAST(varchar AS timestamp with time zone): a text naming a zone other than UTC keeps it
    # in Trino (hour() reads that zone's clock); DuckDB keeps only the instant: refused.
    "trino_tstz_source(x VARCHAR) AS CASE WHEN regexp_matches(trim(x), "
    "'\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*([A-Za-z][A-Za-z0-9_+/-]*|[+-]\\d{2}(:?\\d{2})?)$') "
    "AND NOT regexp_matches(upper(trim(x)), '(UTC|Z|GMT|UCT|ETC/UTC|[+-]00(:?00)?)$') "
    "THEN error('CAST(varchar AS timestamp with time zone) is not supported by the local engine "
    "for a text with a zone other than UTC: Trino keeps the zone in the value') ELSE x END, "
    "(x) AS x",
    # binary.html: varbinary is DuckDB's BLOB. Each function takes only the type Trino's
    # does (md5('text') fails in Trino; DuckDB would hash the text): anything else is
    # refused with Trino's message. Hashes are the digest's bytes; to_hex is upper case.
    *(
        f"trino_{name}(x BLOB) AS {body}, (x) AS error('Unexpected parameters (' || "
        f"lower(typeof(x)) || ') for function {name}')"
        for name, body in (
            ("md5", "unhex(md5(x))"),
            ("sha1", "unhex(sha1(x))"),
            ("sha256", "unhex(sha256(x))"),
            ("to_hex", "hex(x)"),
            ("to_base64", "to_base64(x)"),
            ("from_utf8", "decode(x)"),
        )
    ),
    "trino_to_utf8(x VARCHAR) AS encode(x), (x) AS error('Unexpected parameters (' || "
    "lower(typeof(x)) || ') for function to_utf8')",
    "trino_from_hex(x VARCHAR) AS CASE WHEN length(x) % 2 = 1 THEN error('invalid input "
    "length ' || length(x)) ELSE unhex(x) END, (x) AS error('Unexpected parameters (' || "
    "lower(typeof(x)) || ') for function from_hex')",
    "trino_from_base64(x VARCHAR) AS from_base64(x), (x) AS error('Unexpected parameters (' "
    "|| lower(typeof(x)) || ') for function from_base64')",
    # datetime.html: from_iso8601_timestamp is a timestamp(3) with time zone, in the text's
    # zone or the session's (UTC). The local engine takes the ISO forms it reads exactly as
    # Trino does (yyyy-MM-dd[THH:mm[:ss[.f...]]]) in UTC or without a zone; another zone
    # would have to be kept in the value, and other forms may parse differently: refused.
    "trino_from_iso8601_timestamp(s) AS CASE WHEN NOT regexp_matches(s, "
    "'^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?)?(Z|[+-]00(:?00)?)?$') "
    "THEN error('function from_iso8601_timestamp is not supported by the local engine for ' || "
    "s || ': only yyyy-MM-dd[THH:mm[:ss[.fff]]] in UTC or without a zone') "
    "ELSE date_trunc('millisecond', CAST(s AS TIMESTAMPTZ)) END",
    # math.html: truncate(x) drops the fraction of a double (a double); a decimal's result
    # type differs between the engines: refused.
    "trino_truncate(x) AS CASE WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN trunc(x) ELSE "
    "error('function truncate is not supported by the local engine for ' || lower(typeof(x)) "
    "|| ' (cast it to double)') END",
    # json.html: is_json_scalar is false for objects and arrays; invalid JSON fails.
    "trino_is_json_scalar(j) AS json_type(CAST(j AS JSON)) NOT IN ('OBJECT', 'ARRAY')",
    # datetime.html: to_milliseconds of a day-to-second interval; a year-to-month one fails.
    "trino_to_milliseconds(i INTERVAL) AS CASE WHEN datepart('month', i) <> 0 OR "
    "datepart('year', i) <> 0 THEN error('Unexpected parameters (interval year to month) for "
    "function to_milliseconds') ELSE CAST(round(epoch(i) * 1000) AS BIGINT) END, "
    "(i) AS error('Unexpected parameters (' || lower(typeof(i)) || ') for function "
    "to_milliseconds')",
    # datetime.html: to_iso8601 of a date or a timestamp (p fraction digits, as CAST to
    # varchar prints them, with a 'T'); a timestamp with time zone is refused.
    "trino_to_iso8601(x DATE, p) AS CAST(x AS VARCHAR), "
    "(x TIMESTAMP, p) AS replace(trino_to_varchar(x, p), ' ', 'T'), "
    "(x TIMESTAMPTZ, p) AS error('function to_iso8601 is not supported by the local engine "
    "for a timestamp with time zone'), "
    "(x VARCHAR, p) AS error('Unexpected parameters (varchar) for function to_iso8601')",
    # string.html split_to_map (SplitToMapFunction): entries split by d, each holding kv
    # exactly once; a trailing entry delimiter ends the last entry; '' is an empty map.
    "trino_split_to_map_entries(s, d) AS CASE WHEN s = '' THEN [] WHEN ends_with(s, d) "
    "THEN string_split(left(s, length(s) - length(d)), d) ELSE string_split(s, d) END",
    "trino_split_to_map_bad(s, d, kv) AS list_filter(trino_split_to_map_entries(s, d), "
    "lambda e: len(string_split(e, kv)) <> 2)",
    "trino_split_to_map(s, d, kv) AS CASE WHEN d = '' OR kv = '' THEN error('function "
    "split_to_map is not supported by the local engine with an empty delimiter') "
    "WHEN d = kv THEN error('entryDelimiter and keyValueDelimiter must not be the same') "
    "WHEN len(trino_split_to_map_bad(s, d, kv)) > 0 THEN error('Key-value delimiter must "
    "appear exactly once in each entry. Bad input: ' || trino_split_to_map_bad(s, d, kv)[1]) "
    "ELSE map_from_entries(list_transform(trino_split_to_map_entries(s, d), lambda e: "
    "{'key': string_split(e, kv)[1], 'value': string_split(e, kv)[2]})) END",
    # Trino URL functions (java.net.URI parts); NULL when the part is absent.
    "trino_url_extract_protocol(u) AS nullif(regexp_extract(u, '^([a-zA-Z][a-zA-Z0-9+.-]*):', "
    "1), '')",
    f"trino_url_extract_host(u) AS nullif(regexp_extract(u, '{_URL}(\\[[^\\]]*\\]|[^:/?#]*)', "
    f"1), '')",
    f"trino_url_extract_port(u) AS TRY_CAST(nullif(regexp_extract(u, "
    f"'{_URL}(?:\\[[^\\]]*\\]|[^:/?#]*):([0-9]+)', 1), '') AS BIGINT)",
    "trino_url_extract_path(u) AS regexp_extract(u, "
    "'^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?(?://[^/?#]*)?([^?#]*)', 1)",
    "trino_url_extract_query(u) AS CASE WHEN regexp_matches(u, '^[^#]*[?]') "
    "THEN regexp_extract(u, '^[^?#]*[?]([^#]*)', 1) END",
    "trino_url_extract_fragment(u) AS CASE WHEN contains(u, '#') "
    "THEN regexp_extract(u, '#(.*)$', 1) END",
    "trino_url_param_value(kv) AS CASE WHEN contains(kv, '=') "
    "THEN substring(kv, strpos(kv, '=') + 1) ELSE '' END",
    "trino_url_extract_parameter(u, name) AS trino_url_param_value(list_filter("
    "string_split(trino_url_extract_query(u), '&'), "
    "lambda kv: split_part(kv, '=', 1) = name)[1])",
    # Trino url_encode: application/x-www-form-urlencoded (space -> '+', '*' kept, '~' escaped).
    "trino_url_encode(s) AS replace(replace(replace(url_encode(s), '%20', '+'), '~', '%7E'), "
    "'%2A', '*')",
    "trino_url_decode(s) AS url_decode(replace(s, '+', ' '))",
)


def install_macros(con: Any) -> None:
    """Create (or replace) every ``trino_*`` macro on a DuckDB connection."""
    for body in MACROS:
        con.execute(f"CREATE OR REPLACE MACRO {body}")
