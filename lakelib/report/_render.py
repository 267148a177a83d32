"""The report as one self-contained, interactive HTML file plus CSV extracts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lakelib.report._alerts import Alert
from lakelib.report._kpis import Kpi, compute_kpis
from lakelib.storage import Store

TEMPLATE = "report.html.j2"


@dataclass
class ReportData:
    """Everything the report shows, already queried from the lake.

    ``daily``: date, revenue, orders (one row per day); ``segments``: region, category,
    revenue, orders over the window; ``products``: product_id, category, revenue, orders over
    the window; ``facts``: date, region, category, product_id, revenue, orders (the grain the
    page's filters sum in the browser; optional, else the page is built from ``daily``);
    ``quality``: date, quarantine_rate (optional); ``model``: the promoted model's
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
    facts: pd.DataFrame | None = None
    currency: str = "USD"

    def kpis(self) -> list[Kpi]:
        return compute_kpis(self.daily, self.as_of, self.active_customers)


# Symbols for the common codes; any other ISO code is written before the number.
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _money(value: float, currency: str = "USD") -> str:
    symbol = _SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.2f}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _change(value: float | None) -> str:
    if value is None:
        return '<span class="flat">n/a</span>'
    css = "up" if value > 0 else "down" if value < 0 else "flat"
    return f'<span class="{css}">{value:+.1%}</span>'


def _iso(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


def page_payload(data: ReportData) -> dict[str, Any]:
    """What the page's script filters and sums: dictionary-coded rows, quality, model."""
    facts = data.facts
    if facts is None or facts.empty:
        # Without the fine grain the page still filters by date; one "all" region/category.
        facts = data.daily.assign(region="all", category="all", product_id="all")
    facts = facts.copy()
    facts["date"] = [_iso(d) for d in facts["date"]]
    for column in ("region", "category", "product_id"):
        facts[column] = facts[column].fillna("(none)").astype(str)
    names = {c: sorted(facts[c].unique()) for c in ("date", "region", "category", "product_id")}
    codes = {c: {v: i for i, v in enumerate(names[c])} for c in names}
    # Sorted, so the same lake gives the same page byte for byte (a rerun rebuilds it).
    rows = sorted(
        [
            codes["date"][date],
            codes["region"][region],
            codes["category"][category],
            codes["product_id"][product],
            round(float(revenue), 2),
            int(orders),
        ]
        for date, region, category, product, revenue, orders in zip(
            facts["date"],
            facts["region"],
            facts["category"],
            facts["product_id"],
            facts["revenue"].astype(float),
            facts["orders"].astype(int),
            strict=True,
        )
    )
    quality = []
    if data.quality is not None and not data.quality.empty:
        for r in data.quality.to_dict("records"):
            quality.append(
                {
                    "date": _iso(r["date"]),
                    "rate": round(float(r["quarantine_rate"]), 6),
                    "records": int(r["records"]) if "records" in r else None,
                    "quarantined": int(r["quarantined"]) if "quarantined" in r else None,
                }
            )
    model = None
    if data.model:
        model = {
            "name": str(data.model.get("name", "")),
            "version": str(data.model.get("version", "")),
            "metrics": {
                k: float(v)
                for k, v in dict(data.model.get("metrics") or {}).items()
                if isinstance(v, int | float) and k.endswith(("roc_auc", "pr_auc"))
            },
        }
    return {
        "asOf": data.as_of.isoformat(),
        "windowDays": data.window_days,
        "currency": data.currency,
        "dates": names["date"],
        "regions": names["region"],
        "categories": names["category"],
        "products": names["product_id"],
        "rows": rows,
        "quality": quality,
        "model": model,
    }


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</`` to close it early)."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def render_html(data: ReportData, extracts: Sequence[str] = ()) -> str:
    """The report page: one file, no network, filters driving every chart, KPI and table.

    plotly.js is inlined (no CDN), so the page works offline and from an e-mail attachment;
    the KPI cards are also rendered here for the report day, for a reader without scripts.
    """
    import jinja2
    import plotly.offline
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lakelib.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    env.filters["money"] = lambda v: _money(v, data.currency)
    env.filters["count"] = _count
    env.filters["change"] = lambda v: Markup(_change(v))
    window_start = data.as_of - dt.timedelta(days=data.window_days - 1)
    return env.get_template(TEMPLATE).render(
        title=data.title,
        as_of=data.as_of.isoformat(),
        window_start=window_start.isoformat(),
        database=data.database,
        profile=data.profile,
        kpis=data.kpis(),
        alerts=data.alerts,
        model=data.model,
        window_days=data.window_days,
        extracts=list(extracts),
        payload=Markup(_script_json(page_payload(data))),
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
    )


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.round({"revenue": 2}) if "revenue" in frame.columns else frame


@dataclass(frozen=True)
class ReportFiles:
    html: str
    extracts: list[str]


def write_report(data: ReportData, store: Store, prefix: str) -> ReportFiles:
    """Write ``<prefix>/report.html`` and ``<prefix>/extracts/*.csv``, each atomically."""
    kpis = pd.DataFrame([k.as_dict() for k in data.kpis()])
    # Sums of floats carry noise (103536.69000000003): money to cents, changes to 0.01 %.
    kpis = kpis.round({"value": 2, "previous_day": 2, "previous_week": 2})
    kpis = kpis.round({"change_dod": 4, "change_wow": 4})
    frames = {
        "kpis": kpis,
        "daily": _rounded(data.daily),
        "segments": _rounded(data.segments),
        "products": _rounded(data.products),
    }
    if data.quality is not None:
        frames["quality"] = data.quality.round({"quarantine_rate": 6})
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
