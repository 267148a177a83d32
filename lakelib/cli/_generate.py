"""``lake generate``: deterministic, deliberately dirty sample sources."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import err, out
from lakelib.cli._options import RowsPerDay, SampleDays
from lakelib.config import get_settings
from lakelib.errors import ValidationError
from lakelib.samples import SOURCES, DirtRates, GeneratorSpec, generate_all
from lakelib.samples import generate as generate_source
from lakelib.storage import validate_name

ALL = "all"


@app.command()
def generate(
    source: Annotated[str, typer.Argument(help=f"What to generate: {', '.join((*SOURCES, ALL))}.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder to write into (default: samples/ in the lake home).",
            show_default=False,
        ),
    ] = None,
    days: SampleDays = None,
    rows_per_day: RowsPerDay = None,
    start: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="First day, YYYY-MM-DD (default: lake.toml generate.start).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0, help="Random seed (default: lake.toml generate.seed).", show_default=False
        ),
    ] = None,
    rate: Annotated[
        list[str] | None,
        typer.Option(
            "--rate",
            metavar="KIND=RATE",
            help=f"Override a dirt rate (repeatable); kinds: {', '.join(DirtRates.names())}.",
            show_default=False,
        ),
    ] = None,
    clean: Annotated[
        bool, typer.Option("--clean", help="Start from no dirt at all (then apply --rate).")
    ] = False,
) -> None:
    """Write synthetic sample sources (sales, customers, products) and a manifest.

    The same options and seed give the same bytes on every run.
    """
    validate_name(source, "source")
    if source not in (*SOURCES, ALL):
        raise ValidationError(f"unknown source {source!r} (known: {', '.join((*SOURCES, ALL))})")
    rates = _rates(rate or [], clean)
    settings = get_settings()
    spec = GeneratorSpec.from_config(
        settings.section("generate"),
        rates=rates,
        start=start.date() if start else None,
        days=days,
        rows_per_day=rows_per_day,
        seed=seed,
    )
    target = out_dir if out_dir is not None else settings.home / "samples"
    with err.status(f"generating {source} into {target} ..."):
        if source == ALL:
            entries = generate_all(target, spec)
        else:
            entries = {source: generate_source(source, target, spec)}
    _summary(target, spec, entries)


def _rates(overrides: list[str], clean: bool) -> DirtRates:
    """``["malformed_json=0.1", ...]`` on top of the default (or clean) rates."""
    known = DirtRates.names()
    values: dict[str, float] = {}
    for item in overrides:
        kind, sep, text = item.partition("=")
        kind = kind.strip()
        if not sep or kind not in known:
            raise typer.BadParameter(
                f"{item!r}: use KIND=RATE with KIND one of {', '.join(known)}", param_hint="--rate"
            )
        try:
            values[kind] = float(text)
        except ValueError:
            raise typer.BadParameter(
                f"{item!r}: RATE must be a number between 0 and 1", param_hint="--rate"
            ) from None
    try:
        return (DirtRates.clean() if clean else DirtRates()).replace(**values)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rate") from None


def _summary(target: Path, spec: GeneratorSpec, entries: dict[str, dict[str, Any]]) -> None:
    table = Table(
        title=f"samples in {target} (seed {spec.seed}, {spec.start} + {spec.days} days)",
        title_justify="left",
    )
    table.add_column("source")
    table.add_column("files", justify="right")
    table.add_column("lines", justify="right")
    table.add_column("rows kept", justify="right")
    table.add_column("rejected", justify="right")
    table.add_column("duplicates", justify="right")
    for source, entry in entries.items():
        table.add_row(
            source,
            f"{entry['files']:,}",
            f"{sum(entry['file_lines'].values()):,}",
            f"{entry.get('valid_unique_ids', entry.get('rows', 0)):,}",
            f"{entry.get('rejected', 0):,}",
            f"{entry.get('duplicate_lines', 0):,}",
        )
    out.print(table)
    sales = entries.get("sales")
    if sales:
        dirt = ", ".join(f"{kind} {count:,}" for kind, count in sales["dirt"].items())
        out.print(f"sales dirt: {dirt}")
        out.print(f"channel from: {sales['channel_from_date'] or 'never'}")
    out.print(f"manifest: {target / 'manifest.json'}")
