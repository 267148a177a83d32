"""Customer features, labels and the time-based split: values, no leakage, cutoff planning."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lakelib.ml import (
    buys_again,
    customer_features,
    feature_columns,
    labelled_examples,
    plan_cutoffs,
    split_examples,
)

CUTOFF = dt.date(2026, 2, 1)


def events(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "amount", "category"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame["segment"] = frame["customer_id"].map({"a": "consumer", "b": "corporate"})
    frame["region"] = "north"
    return frame


BASE = events(
    [
        ("a", "2026-01-01 10:00", 10.0, "books"),
        ("a", "2026-01-25 10:00", 30.0, "toys"),
        ("a", "2026-01-31 12:00", 20.0, "books"),
        ("b", "2026-01-10 09:00", 100.0, "garden"),
        ("a", "2026-02-05 10:00", 99.0, "toys"),  # after the cutoff
        ("c", "2026-02-10 10:00", 5.0, "books"),  # first buys after the cutoff
    ]
)


def test_features_count_only_events_before_the_cutoff() -> None:
    features = customer_features(BASE, CUTOFF).set_index("customer_id")
    assert list(features.index) == ["a", "b"]  # c has no history yet
    a = features.loc["a"]
    assert a["recency_days"] == pytest.approx(0.5)
    assert a["frequency_total"] == 3 and a["frequency_7d"] == 2 and a["frequency_30d"] == 2
    assert a["monetary_total"] == 60.0 and a["avg_amount"] == 20.0
    assert a["monetary_30d"] == 50.0
    assert a["tenure_days"] == pytest.approx(30 + 14 / 24)
    assert a["share_books"] == pytest.approx(0.5) and a["share_toys"] == pytest.approx(0.5)
    assert a["category_count"] == 2
    assert a["trend_14d"] == pytest.approx(1.0)  # both recent purchases in the last 14 days
    assert a["segment"] == "consumer" and features.loc["b", "segment"] == "corporate"
    assert features.loc["b", "share_garden"] == 1.0
    assert "share_toys" in feature_columns(features.reset_index())


def test_no_leakage_future_events_do_not_change_features() -> None:
    before = customer_features(BASE, CUTOFF)
    future = events(
        [
            ("a", "2026-02-01 00:00", 1e6, "electronics"),  # exactly at the cutoff: excluded
            ("b", "2026-03-01 00:00", 5.0, "books"),
            ("d", "2026-02-02 00:00", 5.0, "books"),
        ]
    )
    after = customer_features(pd.concat([BASE, future]), CUTOFF)
    pd.testing.assert_frame_equal(before, after)


def test_label_is_a_purchase_in_the_horizon_window() -> None:
    label = buys_again(BASE, CUTOFF, ["a", "b", "c"], horizon_days=30)
    assert label.to_dict() == {"a": 1, "b": 0, "c": 1}
    assert buys_again(BASE, CUTOFF, ["a"], horizon_days=4).to_dict() == {"a": 0}


def test_signup_date_gives_tenure_when_earlier_than_first_purchase() -> None:
    frame = BASE.assign(signup_date=pd.Timestamp("2025-12-02"))
    features = customer_features(frame, CUTOFF).set_index("customer_id")
    assert features.loc["b", "tenure_days"] == pytest.approx(61.0)


def test_plan_on_sixty_days_overlaps_and_holds_out_customers() -> None:
    plan = plan_cutoffs(dt.date(2026, 1, 1), dt.date(2026, 3, 1))
    assert plan.test == dt.date(2026, 1, 31)
    assert plan.train == [dt.date(2026, 1, 17), dt.date(2026, 1, 24)]
    assert plan.overlap and plan.notes


def test_plan_on_long_history_keeps_label_windows_before_the_test_cutoff() -> None:
    plan = plan_cutoffs(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert not plan.overlap
    assert all(c + dt.timedelta(days=30) <= plan.test for c in plan.train)
    assert all(c < plan.test for c in plan.train)


def test_plan_refuses_too_little_data() -> None:
    with pytest.raises(ValueError, match="too few to train"):
        plan_cutoffs(dt.date(2026, 1, 1), dt.date(2026, 1, 31))


def test_split_separates_cutoffs_and_customers() -> None:
    rows = []
    for i in range(300):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 50)
        rows.append((f"C{i:04d}", f"{day} 10:00", 10.0, "books"))
    frame = events(rows)
    plan = plan_cutoffs(dt.date(2026, 1, 1), dt.date(2026, 3, 1))
    examples = labelled_examples(frame, [*plan.train, plan.test])
    train, test = split_examples(examples, plan)
    assert set(train["cutoff"].dt.date) <= set(plan.train)
    assert set(test["cutoff"].dt.date) == {plan.test}
    assert not set(train["customer_id"]) & set(test["customer_id"])
