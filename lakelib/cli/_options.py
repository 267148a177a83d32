"""Options several commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

SampleDays = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Days of sample sales, one file each (default: lake.toml generate.days).",
        show_default=False,
    ),
]
RowsPerDay = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Mean sales a day (default: lake.toml generate.rows_per_day).",
        show_default=False,
    ),
]
