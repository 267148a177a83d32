"""Report charts as PNG data URIs (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pandas as pd

PALETTE = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#0a7ea4", "#6e7781", "#e16f24"]


def _figure(width: float = 7.5, height: float = 3.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    return fig, ax


def _days_axis(ax: Any, dates: pd.Series) -> None:
    """Ticks on whole days, about eight of them, labelled month-day."""
    import matplotlib.dates as mdates

    span = (pd.to_datetime(dates).max() - pd.to_datetime(dates).min()).days + 1
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, span // 8)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))


def _data_uri(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def revenue_trend(daily: pd.DataFrame) -> str:
    """Daily revenue with a 7-day rolling mean."""
    fig, ax = _figure()
    frame = daily.sort_values("date")
    ax.bar(frame["date"], frame["revenue"], color=PALETTE[0], alpha=0.35, label="daily")
    ax.plot(
        frame["date"],
        frame["revenue"].rolling(7, min_periods=1).mean(),
        color=PALETTE[0],
        label="7-day mean",
    )
    ax.set_title("Daily revenue")
    ax.legend(frameon=False)
    _days_axis(ax, frame["date"])
    fig.autofmt_xdate()
    return _data_uri(fig)


def revenue_by(frame: pd.DataFrame, column: str, title: str) -> str:
    """Horizontal bars of revenue by one dimension, largest on top."""
    totals = frame.groupby(column, dropna=False)["revenue"].sum().sort_values()
    fig, ax = _figure(height=max(2.0, 0.35 * len(totals) + 0.8))
    ax.barh([str(x) for x in totals.index], totals.to_numpy(), color=PALETTE[1])
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _data_uri(fig)


def top_products(frame: pd.DataFrame, limit: int = 10) -> str:
    top = frame.nlargest(limit, "revenue").sort_values("revenue")
    fig, ax = _figure(height=max(2.0, 0.35 * len(top) + 0.8))
    ax.barh(top["product_id"].astype(str), top["revenue"], color=PALETTE[2])
    ax.set_title(f"Top {len(top)} products by revenue")
    return _data_uri(fig)


def quality_trend(quality: pd.DataFrame) -> str:
    """Share of incoming records quarantined per day."""
    fig, ax = _figure(height=2.6)
    frame = quality.sort_values("date")
    ax.plot(frame["date"], 100 * frame["quarantine_rate"], marker="o", color=PALETTE[3])
    ax.set_ylabel("% quarantined")
    ax.set_ylim(bottom=0)
    ax.set_title("Data quality: records quarantined")
    _days_axis(ax, frame["date"])
    fig.autofmt_xdate()
    return _data_uri(fig)


def model_metrics(metrics: dict[str, float]) -> str:
    """ROC AUC and PR AUC of the model next to its baselines' (any ``*roc_auc`` / ``*pr_auc``)."""
    names = sorted(
        (k for k in metrics if k.endswith(("roc_auc", "pr_auc"))),
        key=lambda k: (not k.endswith("roc_auc"), k.startswith("baseline"), k),
    )
    labels = [
        k.replace("baseline_", "")
        .replace("_roc_auc", " ROC")
        .replace("_pr_auc", " PR")
        .replace("roc_auc", "model ROC")
        .replace("pr_auc", "model PR")
        for k in names
    ]
    fig, ax = _figure(width=6, height=2.8)
    colors = [PALETTE[6] if k.startswith("baseline") else PALETTE[4] for k in names]
    ax.bar(labels, [metrics[k] for k in names], color=colors)
    ax.set_ylim(0, 1)
    ax.set_title("Model metrics on the test cutoff (grey: baselines)")
    ax.tick_params(axis="x", labelsize=8)
    return _data_uri(fig)
