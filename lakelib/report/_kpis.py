"""Business KPIs from daily totals: pure functions over pandas frames.

The input is one row per day with ``date``, ``revenue``, ``orders`` and ``customers``
(distinct buyers that day); ``active_customers`` counts distinct buyers over a trailing
window and therefore comes from the lake, not from summing days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Kpi:
    """A headline number with its change against the previous day and the same day last week."""

    name: str
    label: str
    value: float
    previous_day: float | None
    previous_week: float | None
    unit: str = ""

    @staticmethod
    def _change(value: float, base: float | None) -> float | None:
        if base is None or base == 0 or pd.isna(base):
            return None
        return (value - base) / base

    @property
    def change_dod(self) -> float | None:
        return self._change(self.value, self.previous_day)

    @property
    def change_wow(self) -> float | None:
        return self._change(self.value, self.previous_week)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "previous_day": self.previous_day,
            "previous_week": self.previous_week,
            "change_dod": self.change_dod,
            "change_wow": self.change_wow,
        }


def _on(daily: pd.DataFrame, day: dt.date, column: str) -> float | None:
    rows = daily.loc[daily["date"] == pd.Timestamp(day), column]
    return float(rows.iloc[0]) if len(rows) else None


def compute_kpis(
    daily: pd.DataFrame, as_of: dt.date, active_customers: dict[dt.date, int] | None = None
) -> list[Kpi]:
    """Revenue, orders, average order value (and active customers) for ``as_of``.

    Parameters
    ----------
    daily:
        one row per day: ``date`` (datetime64), ``revenue``, ``orders``.
    as_of:
        the report's day; a day with no sales counts as zero.
    active_customers:
        distinct buyers in the 30 days up to a date, for ``as_of``, the day before and a week
        before (whichever are known).
    """
    frame = daily.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    yesterday, last_week = as_of - dt.timedelta(days=1), as_of - dt.timedelta(days=7)

    def triple(column: str) -> tuple[float, float | None, float | None]:
        return (
            _on(frame, as_of, column) or 0.0,
            _on(frame, yesterday, column),
            _on(frame, last_week, column),
        )

    revenue, orders = triple("revenue"), triple("orders")

    def aov(rev: float | None, count: float | None) -> float | None:
        return None if rev is None or not count else rev / count

    kpis = [
        Kpi("revenue", "Revenue", *revenue, unit="currency"),
        Kpi("orders", "Orders", *orders),
        Kpi(
            "average_order_value",
            "Average order value",
            aov(revenue[0], orders[0]) or 0.0,
            aov(revenue[1], orders[1]),
            aov(revenue[2], orders[2]),
            unit="currency",
        ),
    ]
    if active_customers:
        kpis.append(
            Kpi(
                "active_customers",
                "Active customers (30 days)",
                float(active_customers.get(as_of, 0)),
                _float_or_none(active_customers.get(yesterday)),
                _float_or_none(active_customers.get(last_week)),
            )
        )
    return kpis


def _float_or_none(value: int | None) -> float | None:
    return None if value is None else float(value)


def kpi_metrics(kpis: list[Kpi]) -> dict[str, float]:
    """KPIs as flat run metrics for alert rules (``revenue_change_dod``, ...)."""
    metrics: dict[str, float] = {}
    for kpi in kpis:
        metrics[kpi.name] = kpi.value
        if kpi.change_dod is not None:
            metrics[f"{kpi.name}_change_dod"] = kpi.change_dod
        if kpi.change_wow is not None:
            metrics[f"{kpi.name}_change_wow"] = kpi.change_wow
    return metrics
