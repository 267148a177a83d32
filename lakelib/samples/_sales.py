"""Sales: purchases drawn from the customers' rates, then deliberately dirtied.

Everything is vectorised with numpy except the final text formatting, which is one f-string
per line and one ``"\\n".join`` per file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakelib.samples._reference import Customers, Products, cents_text, id_width, stream
from lakelib.samples._spec import REJECTING_KINDS, GeneratorSpec

CHANNELS = ("web", "store", "mobile")
CHANNEL_WEIGHTS = (0.45, 0.35, 0.2)
QUANTITY_WEIGHTS = (0.5, 0.25, 0.12, 0.08, 0.05)  # quantities 1..5
# Monday .. Sunday; averages 1.
WEEKDAY_FACTOR = (0.95, 0.95, 0.97, 1.0, 1.05, 1.15, 0.93)
REQUIRED_FIELDS = ("id", "date", "amount", "customer_id", "product_id")
BAD_DATES = (
    "2026-13-45T25:61:00Z",
    "not a date",
    "N/A",
    "0000-00-00T00:00:00Z",
    "32/13/2026 25:00",
    "2026-02-30T99:99:99Z",
)
MAX_LATE_DAYS = 7
MAX_RESEND_DAYS = 3
MAX_MOVE_DAYS = 3
ABSURD_CENTS = (100_000_000, 10_000_000_000)  # 1,000,000.00 up to 100,000,000.00
SECONDS_PER_DAY = 86_400

_VALID = len(REJECTING_KINDS)  # kind code of a record with no rejecting dirt
_KIND = {name: code for code, name in enumerate(REJECTING_KINDS)}


@dataclass(frozen=True)
class SalesFiles:
    """The generated files (name -> bytes, in day order) and their manifest counts."""

    files: dict[str, bytes]
    manifest: dict[str, Any]


def file_name(day: dt.date) -> str:
    return f"sales_{day:%Y%m%d}.jsonl"


def channel_day(spec: GeneratorSpec) -> int:
    """Index of the first file whose lines carry ``channel`` (``spec.days``: none)."""
    return min(spec.days, math.floor(round(spec.rates.channel_from * spec.days, 9)))


def build_sales(spec: GeneratorSpec, customers: Customers, products: Products) -> SalesFiles:
    """Draw the purchases of ``spec``, dirty them at ``spec.rates`` and render the files."""
    rng = stream(spec, "sales")
    rates = spec.rates
    days = spec.days

    # --- purchases: who buys what, when ------------------------------------------------------
    factors = np.array(
        [WEEKDAY_FACTOR[(spec.start + dt.timedelta(days=d)).weekday()] for d in range(days)]
    )
    volume = rng.poisson(spec.rows_per_day * factors)
    day_parts, second_parts, customer_parts = [], [], []
    for d in range(days):
        lam = customers.rate(d)
        cumulative = np.cumsum(lam)
        total = cumulative[-1]
        n = int(volume[d]) if total > 0 else 0
        chosen = np.searchsorted(cumulative, rng.random(n) * total, side="right")
        chosen = np.minimum(chosen, len(customers) - 1)
        seconds = np.minimum(rng.beta(2.5, 2.0, size=n) * SECONDS_PER_DAY, SECONDS_PER_DAY - 1)
        seconds = seconds.astype(np.int64)
        order = np.argsort(seconds, kind="stable")
        day_parts.append(np.full(n, d, dtype=np.int64))
        second_parts.append(seconds[order])
        customer_parts.append(chosen[order])
    day = np.concatenate(day_parts)
    second = np.concatenate(second_parts)
    customer = np.concatenate(customer_parts)
    n = len(day)

    product = np.searchsorted(np.cumsum(products.popularity), rng.random(n), side="right")
    product = np.minimum(product, len(products.ids) - 1)
    quantity = rng.choice(np.arange(1, 6), size=n, p=QUANTITY_WEIGHTS)
    cents = products.price_cents[product] * quantity
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_WEIGHTS)

    # --- dirt: every draw is made for every record, whatever the rates, so changing one rate
    # never reshuffles the others.
    u_kind, u_string, u_late, u_unknown, u_dup, u_lag, u_where, u_when, u_fix = rng.random((9, n))
    null_field = rng.integers(0, len(REQUIRED_FIELDS), size=n)
    null_omitted = rng.random(n) < 0.5
    absurd_cents = rng.integers(*ABSURD_CENTS, size=n)
    bad_date = rng.integers(0, len(BAD_DATES), size=n)
    cut = rng.uniform(0.15, 0.9, size=n)
    unknown_pool = max(50, len(customers) // 20)
    unknown_number = len(customers) + 1 + rng.integers(0, unknown_pool, size=n)

    thresholds = np.cumsum([getattr(rates, name) for name in REJECTING_KINDS])
    kind = np.searchsorted(thresholds, u_kind, side="right")
    valid = kind == _VALID

    string_amount = valid & (u_string < rates.string_amount)
    unknown = valid & (u_unknown < rates.unknown_customer)
    room = days - 1 - day  # files left after the event's own day
    late = valid & (room > 0) & (u_late < rates.late_arriving)
    lag = 1 + np.floor(u_lag * np.minimum(MAX_LATE_DAYS, np.maximum(room, 1))).astype(np.int64)
    arrival = np.where(late, day + lag, day)
    arrival_second = np.where(late, (u_when * SECONDS_PER_DAY).astype(np.int64), second)

    exact = valid & (u_dup < rates.exact_duplicate)
    resend = (
        valid
        & ~exact
        & (u_dup < rates.exact_duplicate + rates.corrected_resend)
        & (arrival < days - 1)
    )

    # --- render the base lines -------------------------------------------------------------
    has_channel = arrival >= channel_day(spec)
    id_width_ = id_width(n, 10)
    customer_width = len(customers.ids[0]) - 1
    stamps = (
        np.datetime64(spec.start.isoformat(), "s")
        + day.astype("timedelta64[D]")
        + second.astype("timedelta64[s]")
    )
    date_text = [f'"{s}Z"' for s in np.datetime_as_string(stamps, unit="s").tolist()]
    for i in np.flatnonzero(kind == _KIND["bad_date"]).tolist():
        date_text[i] = json.dumps(BAD_DATES[bad_date[i]])

    amount_cents = np.where(kind == _KIND["negative_amount"], -cents, cents)
    amount_cents = np.where(kind == _KIND["absurd_amount"], absurd_cents, amount_cents)
    amount_text = [str(a) for a in (amount_cents / 100).tolist()]
    for i in np.flatnonzero(string_amount).tolist():
        amount_text[i] = f'"{cents_text(amount_cents[i])}"'

    ids = [f'"S{i:0{id_width_}d}"' for i in range(1, n + 1)]
    customer_text = [f'"{customers.ids[c]}"' for c in customer.tolist()]
    for i in np.flatnonzero(unknown).tolist():
        customer_text[i] = f'"C{unknown_number[i]:0{customer_width}d}"'
    product_text = [f'"{products.ids[p]}"' for p in product.tolist()]
    channel_text = [f'"{CHANNELS[c]}"' for c in channel.tolist()]

    lines = [
        f'{{"id": {a}, "date": {b}, "amount": {c}, "customer_id": {d}, "product_id": {e}, '
        f'"channel": {f}}}'
        if g
        else f'{{"id": {a}, "date": {b}, "amount": {c}, "customer_id": {d}, "product_id": {e}}}'
        for a, b, c, d, e, f, g in zip(
            ids,
            date_text,
            amount_text,
            customer_text,
            product_text,
            channel_text,
            has_channel.tolist(),
            strict=True,
        )
    ]
    for i in np.flatnonzero(kind == _KIND["null_required"]).tolist():
        values = {
            "id": ids[i],
            "date": date_text[i],
            "amount": amount_text[i],
            "customer_id": customer_text[i],
            "product_id": product_text[i],
        }
        if has_channel[i]:
            values["channel"] = channel_text[i]
        name = REQUIRED_FIELDS[null_field[i]]
        if null_omitted[i]:
            del values[name]
        else:
            values[name] = "null"
        lines[i] = "{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}"
    for i in np.flatnonzero(kind == _KIND["malformed_json"]).tolist():
        text = lines[i]
        broken = text[: max(1, int(len(text) * cut[i]))]
        # Half truncated, half garbled: a key/value separator lost on the way.
        lines[i] = broken if i % 2 else text.replace('": ', '" ', 1)

    # --- extra lines: exact duplicates and corrected re-sends --------------------------------
    line_file = [arrival]
    line_second = [arrival_second]
    line_seq = [np.arange(n)]
    extra_text: list[str] = []

    dup_index = np.flatnonzero(exact)
    next_file = (u_where[dup_index] < 0.5) & (arrival[dup_index] < days - 1)
    dup_file = arrival[dup_index] + next_file
    later = (arrival_second[dup_index] + u_when[dup_index] * 900).astype(np.int64)
    dup_second = np.where(
        next_file,
        (u_fix[dup_index] * SECONDS_PER_DAY).astype(np.int64),
        np.minimum(later, SECONDS_PER_DAY - 1),
    )
    extra_text.extend(lines[i] for i in dup_index.tolist())
    line_file.append(dup_file)
    line_second.append(dup_second)

    resend_index = np.flatnonzero(resend)
    span = np.minimum(MAX_RESEND_DAYS, days - 1 - arrival[resend_index])
    resend_file = arrival[resend_index] + 1 + np.floor(u_where[resend_index] * span).astype(int)
    corrected = np.rint(cents[resend_index] * (0.5 + u_fix[resend_index])).astype(np.int64)
    corrected = np.maximum(np.where(corrected == cents[resend_index], corrected + 1, corrected), 1)
    resend_second = (u_when[resend_index] * SECONDS_PER_DAY).astype(np.int64)
    channel_start = channel_day(spec)
    moved_day = _moved_days(spec, day, resend)
    moves: dict[str, dict[str, str]] = {}
    for i, f, c in zip(
        resend_index.tolist(), resend_file.tolist(), corrected.tolist(), strict=True
    ):
        when = date_text[i]
        if moved_day[i] != day[i]:
            moved = (
                np.datetime64(spec.start.isoformat(), "s")
                + np.timedelta64(int(moved_day[i]), "D")
                + np.timedelta64(int(second[i]), "s")
            )
            when = f'"{moved}Z"'
            moves[ids[i].strip('"')] = {
                "from": (spec.start + dt.timedelta(days=int(day[i]))).isoformat(),
                "to": (spec.start + dt.timedelta(days=int(moved_day[i]))).isoformat(),
            }
        text = (
            f'{{"id": {ids[i]}, "date": {when}, "amount": {c / 100}, '
            f'"customer_id": {customer_text[i]}, "product_id": {product_text[i]}'
        )
        extra_text.append(
            text + (f', "channel": {channel_text[i]}}}' if f >= channel_start else "}")
        )
    line_file.append(resend_file)
    line_second.append(resend_second)
    line_seq.append(np.arange(n, n + len(extra_text)))

    all_text = lines + extra_text
    files_of = np.concatenate(line_file)
    seconds_of = np.concatenate(line_second)
    order = np.lexsort((np.concatenate(line_seq), seconds_of, files_of))
    boundaries = np.searchsorted(files_of[order], np.arange(days + 1))

    files: dict[str, bytes] = {}
    file_lines: dict[str, int] = {}
    for d in range(days):
        picked = order[boundaries[d] : boundaries[d + 1]].tolist()
        name = file_name(spec.start + dt.timedelta(days=d))
        body = "\n".join(all_text[i] for i in picked)
        files[name] = (body + "\n").encode() if picked else b""
        file_lines[name] = len(picked)

    truth = cents.copy()
    truth[resend_index] = corrected
    dirt = {
        "exact_duplicate": len(dup_index),
        "corrected_resend": len(resend_index),
        "moved_resend": len(moves),
        **{name: int(np.count_nonzero(kind == code)) for name, code in _KIND.items()},
        "string_amount": int(np.count_nonzero(string_amount)),
        "late_arriving": int(np.count_nonzero(late)),
        "unknown_customer": int(np.count_nonzero(unknown)),
    }
    rejected = int(np.count_nonzero(~valid))
    first_channel = channel_day(spec)
    manifest: dict[str, Any] = {
        "files": days,
        "lines": len(all_text),
        "base_records": n,
        "valid_unique_ids": int(np.count_nonzero(valid)),
        "rejected": rejected,
        "duplicate_lines": len(dup_index) + len(resend_index),
        "malformed_lines": dirt["malformed_json"],
        "valid_amount_total": cents_text(int(truth[valid].sum())),
        "first_date": spec.start.isoformat(),
        "last_date": spec.end.isoformat(),
        "channel_from_date": (
            (spec.start + dt.timedelta(days=first_channel)).isoformat()
            if first_channel < days
            else None
        ),
        "customers_referenced": int(np.unique(customer[valid & ~unknown]).size),
        "dirt": dirt,
        "moved": dict(sorted(moves.items())),
        "file_lines": {f"sales/{k}": v for k, v in file_lines.items()},
    }
    return SalesFiles(files=files, manifest=manifest)


def _moved_days(spec: GeneratorSpec, day: np.ndarray, resend: np.ndarray) -> np.ndarray:
    """The event day of each record's corrected re-send: its own day, or for the
    ``moved_resend`` share of re-sends another day 1–3 days away inside the period."""
    rng = stream(spec, "moves")
    n = len(day)
    u_move, u_shift, u_sign = rng.random((3, n))
    shift = 1 + np.floor(u_shift * MAX_MOVE_DAYS).astype(np.int64)
    target = np.where(u_sign < 0.5, day - shift, day + shift)
    # Outside the period: the other way; still outside (a short period): the nearest other day.
    target = np.where((target < 0) | (target >= spec.days), 2 * day - target, target)
    nearest = np.where(day + 1 < spec.days, day + 1, day - 1)
    target = np.where((target < 0) | (target >= spec.days), nearest, target)
    moved = resend & (u_move < spec.rates.moved_resend) & (target >= 0)
    return np.where(moved, target, day)
