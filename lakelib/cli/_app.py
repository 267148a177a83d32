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
    # Plain click help: rich markup would eat bracketed words ("lake.toml [query]") and
    # print a `<bool>` placeholder after every flag.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        import lakelib

        typer.echo(f"lake (lakelib) {lakelib.__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help=f"Lake settings profile: {' | '.join(PROFILES)} (env LAKE_PROFILE; default "
            "local). For AWS credentials see --aws-profile.",
            show_default=False,
        ),
    ] = None,
    aws_profile: Annotated[
        str | None,
        typer.Option(
            "--aws-profile",
            metavar="NAME",
            help="AWS credentials profile from ~/.aws/config (env AWS_PROFILE).",
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
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    if profile is not None and profile not in PROFILES:
        raise typer.BadParameter(f"use one of: {', '.join(PROFILES)}", param_hint="--profile")
    if aws_profile is not None:
        from lakelib.aws import use_profile

        use_profile(aws_profile)
    configure(profile=profile, home=home)
