"""The report as one self-contained HTML file (charts inlined) plus CSV extracts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lakelib.report import _charts
from lakelib.report._alerts import Alert
from lakelib.report._kpis import Kpi, compute_kpis
from lakelib.storage import Store

TEMPLATE = "report.html.j2"


@dataclass
class ReportData:
    """Everything the report shows, already queried from the lake.

    ``daily``: date, revenue, orders (one row per day); ``segments``: region, category,
    revenue, orders over the window; ``products``: product_id, category, revenue, orders over
    the window; ``quality``: date, quarantine_rate (optional); ``model``: the promoted model's
    registry entry with ``name``, ``version``, ``metrics`` (optional).
    """

    as_of: dt.date
    daily: pd.DataFrame
    segments: pd.DataFrame
    products: pd.DataFrame
    quality: pd.DataFrame | None = None
    model: Mapping[str, Any] | None = None
    active_customers: dict[dt.date, int] | None = None
    alerts: Sequence[Alert] = field(default_factory=list)
    window_days: int = 30
    title: str = "Sales report"
    database: str = "data_lake_db"
    profile: str = "local"

    def kpis(self) -> list[Kpi]:
        return compute_kpis(self.daily, self.as_of, self.active_customers)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _change(value: float | None) -> str:
    if value is None:
        return '<span class="flat">n/a</span>'
    css = "up" if value > 0 else "down" if value < 0 else "flat"
    return f'<span class="{css}">{value:+.1%}</span>'


def render_html(data: ReportData, extracts: Sequence[str] = ()) -> str:
    """The report page; a person opens it with no server and sees no code."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lakelib.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    env.filters["money"] = _money
    env.filters["count"] = _count
    env.filters["change"] = lambda v: Markup(_change(v))
    charts = [{"title": "Daily revenue", "uri": _charts.revenue_trend(data.daily)}]
    if not data.segments.empty:
        charts.append(
            {
                "title": "Revenue by region",
                "uri": _charts.revenue_by(data.segments, "region", "Revenue by region"),
            }
        )
        charts.append(
            {
                "title": "Revenue by category",
                "uri": _charts.revenue_by(data.segments, "category", "Revenue by category"),
            }
        )
    if not data.products.empty:
        charts.append({"title": "Top products", "uri": _charts.top_products(data.products)})
    if data.quality is not None and not data.quality.empty:
        charts.append({"title": "Data quality", "uri": _charts.quality_trend(data.quality)})
    if data.model and data.model.get("metrics"):
        charts.append(
            {"title": "Model metrics", "uri": _charts.model_metrics(dict(data.model["metrics"]))}
        )
    segments = data.segments.sort_values(["region", "revenue"], ascending=[True, False])
    return env.get_template(TEMPLATE).render(
        title=data.title,
        as_of=data.as_of.isoformat(),
        database=data.database,
        profile=data.profile,
        kpis=data.kpis(),
        alerts=data.alerts,
        charts=charts,
        regions=sorted(data.segments["region"].dropna().astype(str).unique())
        if not data.segments.empty
        else [],
        segments=segments.to_dict("records"),
        products=data.products.nlargest(20, "revenue").to_dict("records"),
        model=data.model,
        window_days=data.window_days,
        extracts=list(extracts),
    )


@dataclass(frozen=True)
class ReportFiles:
    html: str
    extracts: list[str]


def write_report(data: ReportData, store: Store, prefix: str) -> ReportFiles:
    """Write ``<prefix>/report.html`` and ``<prefix>/extracts/*.csv``, each atomically."""
    kpis = pd.DataFrame([k.as_dict() for k in data.kpis()])
    frames = {
        "kpis": kpis,
        "daily": data.daily,
        "segments": data.segments,
        "products": data.products,
    }
    if data.quality is not None:
        frames["quality"] = data.quality
    keys = []
    for name, frame in frames.items():
        key = f"{prefix}/extracts/{name}.csv"
        store.write_bytes(key, frame.to_csv(index=False).encode("utf-8"))
        keys.append(key)
    html_key = f"{prefix}/report.html"
    store.write_bytes(
        html_key, render_html(data, [k.rsplit("/", 1)[-1] for k in keys]).encode("utf-8")
    )
    return ReportFiles(html_key, keys)
