"""``lake ingest`` and ``lake serve-ingest``: land source data in the raw zone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import err, human_bytes, out
from lakelib.ingest import (
    DEFAULT_MAX_BODY,
    IngestSummary,
    LandingOptions,
    SourceSpec,
    land,
    make_webhook_server,
)
from lakelib.sources import FORMATS


def print_summary(summary: IngestSummary) -> None:
    table = Table(title=f"ingest {summary.source} ({summary.run_id})", title_justify="left")
    for column in ("read", "landed", "quarantined", "files", "bytes"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{summary.read:,}",
        f"{summary.landed:,}",
        f"{summary.quarantined:,}",
        f"{len(summary.files) + len(summary.quarantine_files):,}",
        human_bytes(summary.bytes_written),
    )
    out.print(table)
    if summary.reasons:
        reasons = ", ".join(f"{code} {count:,}" for code, count in summary.reasons.items())
        out.print(f"quarantined: {reasons}")
    if not summary.validated:
        out.print("not validated: landed without a contract (--no-contract)", markup=False)
    if summary.skipped_inputs:
        out.print(
            f"skipped {len(summary.skipped_inputs):,} input(s) already landed "
            "(use --force to land them again)"
        )


@app.command("ingest")
def ingest_command(
    source: Annotated[
        str, typer.Argument(help="Source name declared in lake.toml, e.g. sales (a-z, 0-9, _).")
    ],
    location: Annotated[
        str,
        typer.Option(
            "--from",
            help="A file, folder or glob; an http(s):// API; or a SQLAlchemy URL.",
            show_default=False,
        ),
    ],
    date: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Arrival date to land under (default: today, UTC).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Land inputs again even if landed before.")
    ] = False,
    fmt: Annotated[
        str,
        typer.Option(
            # --input-format: elsewhere --format is the output's; the old name still works.
            "--input-format",
            "--format",
            help=f"Input file format: {', '.join(FORMATS)} (--format is the old name).",
        ),
    ] = "auto",
    table: Annotated[
        str | None, typer.Option(help="SQL source: table to read.", show_default=False)
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="SQL source: query to read.", show_default=False)
    ] = None,
    watermark: Annotated[
        str | None,
        typer.Option(
            help="SQL source: column that only grows; later runs read only newer rows.",
            show_default=False,
        ),
    ] = None,
    retries: Annotated[
        int, typer.Option(min=0, help="HTTP source: retries on connection errors, 429 and 5xx.")
    ] = 4,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="HTTP source: seconds to connect / to read a page.")
    ] = 30.0,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            help="HTTP source: a request header 'Name: value', repeatable. Pass credentials by "
            "reference: 'Authorization: env:API_TOKEN' or 'X-Api-Key: secretsmanager:<id>'.",
            show_default=False,
        ),
    ] = None,
    validate: Annotated[
        bool,
        typer.Option(
            "--contract/--no-contract",
            "--validate/--no-validate",
            help="Apply the source's contract from lake.toml; --no-contract lands records "
            "unvalidated (the run record says so) and accepts a source lake.toml does not declare.",
        ),
    ] = True,
) -> None:
    """Fetch, validate, add metadata, gzip and land records in the raw zone."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of: {', '.join(FORMATS)}", param_hint="--input-format")
    headers = parse_headers(header or [], location)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(f"ingest {source}", total=None)
        summary = land(
            source,
            SourceSpec(location, fmt, table, query, watermark, retries, timeout, headers),
            LandingOptions(
                run_date=date.date() if date else None,
                force=force,
                validate=validate,
                progress=lambda n: bar.advance(task, n),
            ),
        )
    print_summary(summary)


def parse_headers(values: list[str], location: str) -> dict[str, str]:
    """``["Authorization: env:TOKEN"]`` -> ``{"Authorization": "env:TOKEN"}`` (usage errors: 2)."""
    if values and not location.startswith(("http://", "https://")):
        raise typer.BadParameter("applies to http(s):// sources only", param_hint="--header")
    headers: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition(":")
        name, text = name.strip(), text.strip()
        # RFC 9110 token characters; a value may hold anything but line breaks.
        if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) or not text:
            raise typer.BadParameter(
                "use 'Name: value' (e.g. 'Authorization: env:API_TOKEN')", param_hint="--header"
            )
        if "\r" in text or "\n" in text:
            raise typer.BadParameter("a header value cannot span lines", param_hint="--header")
        headers[name] = text
    return headers


@app.command("serve-ingest")
def serve_ingest(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8080,
    max_body: Annotated[int, typer.Option(help="Largest accepted body, bytes.")] = DEFAULT_MAX_BODY,
) -> None:
    """Run the ingestion webhook: POST /ingest/<source> with JSON or JSON lines."""
    server = make_webhook_server(host, port, max_body=max_body)
    err.print(f"ingestion webhook on {server.url}/ingest/<source> (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
