"""``lake status``: what is in the lake."""

from __future__ import annotations

from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import human_bytes, out
from lakelib.config import get_settings
from lakelib.storage import zone_usage


@app.command()
def status() -> None:
    """Show the lake's zones with their file counts and sizes."""
    settings = get_settings()
    table = Table(title=f"lake ({settings.profile} profile)", title_justify="left")
    table.add_column("zone")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    table.add_column("location", overflow="fold")
    for usage in zone_usage(settings):
        table.add_row(usage.zone.value, f"{usage.files:,}", human_bytes(usage.bytes), usage.uri)
    out.print(table)
    out.print(f"catalog database: {settings.database}")
