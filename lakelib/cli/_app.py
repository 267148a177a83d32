"""The ``lake`` Typer application and its global options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakelib.config import PROFILES, configure

app = typer.Typer(
    name="lake",
    help="lakelib: a zoned data lake and ML workspace, on one laptop or on AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help=f"Settings profile: {' | '.join(PROFILES)} (env LAKE_PROFILE; default local).",
            show_default=False,
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Lake folder for the local profile (env LAKE_HOME; default .lake/ next to "
            "lake.toml).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    if profile is not None and profile not in PROFILES:
        raise typer.BadParameter(f"use one of: {', '.join(PROFILES)}", param_hint="--profile")
    configure(profile=profile, home=home)
