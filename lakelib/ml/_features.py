"""Customer features and the "buys again" label, as of a cutoff date. Pure pandas, no I/O.

The input is an *events* frame, one row per cleaned sale (what :func:`lakelib.ml.load_events`
reads from ``sales_clean``):

=============  =====================================================
customer_id    string
ts             event time, naive UTC (``datetime64[ns]``)
amount         float, the sale's value
segment        string or missing (the customer's segment)
region         string or missing
category       string or missing (the product's category)
signup_date    optional: the customer's signup day (tenure counts from it when known)
=============  =====================================================

Features of a customer at cutoff ``c`` use only events with ``ts < c`` (a test proves it);
the label is 1 when the customer has an event in ``[c, c + horizon)``.

This module also runs inside SageMaker's scikit-learn container (it is shipped in the training
bundle), so it keeps to the standard library, numpy and pandas and to Python 3.9 syntax.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

EVENT_COLUMNS = ("customer_id", "ts", "amount", "segment", "region", "category")
CATEGORICAL_FEATURES = ("segment", "region")
NUMERIC_FEATURES = (
    "recency_days",
    "frequency_7d",
    "frequency_30d",
    "frequency_total",
    "active_days_30d",
    "monetary_30d",
    "monetary_total",
    "avg_amount",
    "tenure_days",
    "days_per_purchase",
    "trend_14d",
    "category_count",
)
SHARE_PREFIX = "share_"
LABEL = "label"
KEY_COLUMNS = ("customer_id", "cutoff")
DEFAULT_HORIZON_DAYS = 30
DEFAULT_MIN_HISTORY_DAYS = 14
DEFAULT_STEP_DAYS = 7
UNKNOWN = "unknown"

_DAY = np.timedelta64(1, "D")


def share_column(category: str) -> str:
    """``share_<category>``: the column holding a category's share of a customer's spend."""
    slug = re.sub(r"[^a-z0-9]+", "_", str(category).strip().lower()).strip("_") or UNKNOWN
    return SHARE_PREFIX + slug


def _timestamp(day: dt.date | dt.datetime | str) -> pd.Timestamp:
    stamp = pd.Timestamp(day)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def customer_features(
    events: pd.DataFrame,
    cutoff: dt.date | dt.datetime | str,
    *,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Recency, frequency, monetary value, tenure, segment, region, category mix and trend.

    Parameters
    ----------
    events:
        the events frame described in the module docstring.
    cutoff:
        the as-of instant; only events strictly before it are used.
    categories:
        categories whose spend share becomes a ``share_<category>`` column; by default every
        category seen before the cutoff. Pass the training list when scoring so the columns
        match the model's.

    Returns
    -------
    pandas.DataFrame
        one row per customer with at least one event before the cutoff, sorted by
        ``customer_id``: ``customer_id``, ``cutoff`` and the feature columns
        (:func:`feature_columns`).
    """
    at = _timestamp(cutoff)
    past = events.loc[events["ts"] < at]
    if categories is None:
        categories = sorted(past["category"].dropna().astype(str).unique().tolist())
    shares = [share_column(c) for c in categories]
    columns = [*KEY_COLUMNS, *NUMERIC_FEATURES, *shares, *CATEGORICAL_FEATURES]
    if past.empty:
        return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in columns})

    age = (at - past["ts"]) / _DAY  # type: ignore[operator]  # days before the cutoff, > 0
    work = pd.DataFrame(
        {
            "customer_id": past["customer_id"].astype(str).to_numpy(),
            "age": age.to_numpy(),
            "amount": past["amount"].astype(float).to_numpy(),
            "day": past["ts"].dt.floor("D").to_numpy(),
            "in_7": (age <= 7).to_numpy(),
            "in_14": (age <= 14).to_numpy(),
            "in_15_28": ((age > 14) & (age <= 28)).to_numpy(),
            "in_30": (age <= 30).to_numpy(),
        }
    )
    work["amount_30"] = np.where(work["in_30"], work["amount"], 0.0)
    work["day_30"] = work["day"].where(work["in_30"])
    grouped = work.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {
            "recency_days": grouped["age"].min(),
            "frequency_7d": grouped["in_7"].sum(),
            "frequency_30d": grouped["in_30"].sum(),
            "frequency_total": grouped["age"].size(),
            "active_days_30d": grouped["day_30"].nunique(),
            "monetary_30d": grouped["amount_30"].sum(),
            "monetary_total": grouped["amount"].sum(),
            "tenure_days": grouped["age"].max(),
        }
    )
    out["avg_amount"] = out["monetary_total"] / out["frequency_total"]
    out["days_per_purchase"] = out["tenure_days"] / out["frequency_total"]
    last_14 = grouped["in_14"].sum()
    prev_14 = grouped["in_15_28"].sum()
    total_28 = last_14 + prev_14
    out["trend_14d"] = np.where(total_28 > 0, (last_14 - prev_14) / total_28.clip(lower=1), 0.0)

    cats = past["category"].astype("string").fillna(UNKNOWN).to_numpy()
    spend = pd.DataFrame({"customer_id": work["customer_id"], "category": cats})
    spend["amount"] = work["amount"]
    by_cat = spend.pivot_table(
        index="customer_id", columns="category", values="amount", aggfunc="sum", fill_value=0.0
    )
    out["category_count"] = (by_cat > 0).sum(axis=1).reindex(out.index).fillna(0)
    totals = by_cat.sum(axis=1).replace(0.0, np.nan)
    for category, name in zip(categories, shares):  # noqa: B905 (strict= is 3.10+)
        if category in by_cat.columns:
            out[name] = (by_cat[category] / totals).reindex(out.index).fillna(0.0)
        else:
            out[name] = 0.0

    # The customer's segment and region as of their latest event before the cutoff.
    latest = past.sort_values("ts").groupby(past["customer_id"].astype(str), sort=True).last()
    if "signup_date" in latest.columns:
        signup = pd.to_datetime(latest["signup_date"], errors="coerce").reindex(out.index)
        since_signup = (at - signup) / _DAY
        # Tenure from signup when known and not after the first purchase seen.
        out["tenure_days"] = since_signup.where(
            since_signup >= out["tenure_days"], out["tenure_days"]
        )
    for name in CATEGORICAL_FEATURES:
        values = latest[name].astype("string").reindex(out.index)
        out[name] = values.fillna(UNKNOWN).astype(object)

    out = out.reset_index(names="customer_id")
    out.insert(1, "cutoff", at)
    for name in NUMERIC_FEATURES:
        out[name] = out[name].astype(float)
    return out[columns].reset_index(drop=True)


def _dtype(name: str) -> str:
    if name == "cutoff":
        return "datetime64[ns]"
    if name in ("customer_id", *CATEGORICAL_FEATURES):
        return "object"
    return "float64"


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's input columns of a features frame, in order: numeric, shares, categorical."""
    shares = [c for c in frame.columns if c.startswith(SHARE_PREFIX)]
    return [*NUMERIC_FEATURES, *shares, *CATEGORICAL_FEATURES]


def buys_again(
    events: pd.DataFrame,
    cutoff: dt.date | dt.datetime | str,
    customers: Iterable[str],
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> pd.Series:
    """The label: 1 if the customer has an event in ``[cutoff, cutoff + horizon_days)``."""
    start = _timestamp(cutoff)
    end = start + pd.Timedelta(days=horizon_days)
    future = events.loc[(events["ts"] >= start) & (events["ts"] < end), "customer_id"]
    buyers = set(future.astype(str).unique().tolist())
    ids = [str(c) for c in customers]
    return pd.Series([int(c in buyers) for c in ids], index=ids, name=LABEL, dtype="int64")


def labelled_examples(
    events: pd.DataFrame,
    cutoffs: Sequence[dt.date],
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Features and label of every active customer at each cutoff, stacked.

    The category list is fixed once (every category seen before the last cutoff) so all
    cutoffs share the same columns.
    """
    if categories is None:
        last = _timestamp(max(cutoffs))
        seen = events.loc[events["ts"] < last, "category"].dropna().astype(str)
        categories = sorted(seen.unique().tolist())
    frames = []
    for cutoff in cutoffs:
        features = customer_features(events, cutoff, categories=categories)
        label = buys_again(events, cutoff, features["customer_id"], horizon_days)
        features[LABEL] = label.to_numpy()
        frames.append(features)
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class CutoffPlan:
    """Which cutoffs train the model and which one tests it.

    ``overlap`` is true when the training label windows reach past the test cutoff (short
    histories); the split then also holds out customers (:func:`holdout_customer`), so no
    customer's future is both learnt and tested.
    """

    train: list[dt.date]
    test: dt.date
    horizon_days: int
    overlap: bool
    first_day: dt.date
    last_day: dt.date
    notes: list[str] = field(default_factory=list)


def plan_cutoffs(
    first_day: dt.date,
    last_day: dt.date,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    min_history_days: int = DEFAULT_MIN_HISTORY_DAYS,
    step_days: int = DEFAULT_STEP_DAYS,
    max_train_cutoffs: int = 8,
) -> CutoffPlan:
    """A time-based split over the days ``first_day .. last_day`` (inclusive) of data.

    The test cutoff is the latest day whose whole label window is in the data
    (``last_day + 1 - horizon``). Training cutoffs step back from it by ``step_days`` while at
    least ``min_history_days`` of history precede them. Cutoffs whose label window ends by
    the test cutoff are preferred; when there are none (under ~``2 * horizon +
    min_history`` days of data) the earlier, overlapping cutoffs are used and
    ``overlap`` is set.

    Raises
    ------
    ValueError
        when the data is too short for even one training cutoff.
    """
    end = last_day + dt.timedelta(days=1)
    test = end - dt.timedelta(days=horizon_days)
    candidates: list[dt.date] = []
    cutoff = test - dt.timedelta(days=step_days)
    while (cutoff - first_day).days >= min_history_days and len(candidates) < 4 * max_train_cutoffs:
        candidates.append(cutoff)
        cutoff -= dt.timedelta(days=step_days)
    if not candidates:
        need = min_history_days + step_days + horizon_days
        have = (end - first_day).days
        raise ValueError(
            f"{have} days of data ({first_day} .. {last_day}) are too few to train: need at "
            f"least {need} (history {min_history_days} + step {step_days} + horizon "
            f"{horizon_days})"
        )
    strict = [c for c in candidates if c + dt.timedelta(days=horizon_days) <= test]
    notes = []
    if strict:
        chosen, overlap = strict, False
    else:
        chosen, overlap = candidates, True
        notes.append(
            "label windows of the training cutoffs overlap the test window: test customers "
            "are held out of training"
        )
    chosen = sorted(chosen[:max_train_cutoffs])
    return CutoffPlan(chosen, test, horizon_days, overlap, first_day, last_day, notes)


def holdout_customer(customer_id: str, share: float = 0.2) -> bool:
    """Stable customer-level split: the same ids are held out on every run and machine."""
    return (zlib.crc32(str(customer_id).encode()) % 10_000) < share * 10_000


def split_examples(
    examples: pd.DataFrame, plan: CutoffPlan, holdout_share: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the plan's training cutoffs and of its test cutoff (customer-held-out if needed)."""
    cutoffs = examples["cutoff"]
    train = examples.loc[cutoffs.isin([_timestamp(c) for c in plan.train])]
    test = examples.loc[cutoffs == _timestamp(plan.test)]
    if plan.overlap:
        held_train = train["customer_id"].map(lambda c: holdout_customer(c, holdout_share))
        held_test = test["customer_id"].map(lambda c: holdout_customer(c, holdout_share))
        train, test = train.loc[~held_train], test.loc[held_test]
    return train.reset_index(drop=True), test.reset_index(drop=True)
