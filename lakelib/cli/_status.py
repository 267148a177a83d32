"""``lake status``: what is in the lake, the last runs, their counts and alerts."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import orjson
from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import OutputFormat, check_format, emit_json, human_bytes, out
from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import CatalogError
from lakelib.monitor import recent_runs
from lakelib.report import AlertLog
from lakelib.storage import Store, zone_usage

PIPELINE = "daily"
_COUNTS = ("read", "landed", "quarantined")


def _recent_ingests(runs: Store, limit: int = 5) -> list[dict[str, object]]:
    keys = [i.key for i in runs.list("ingest/") if "/runs/" in i.key and i.key.endswith(".json")]
    keys.sort(key=lambda key: key.rsplit("/", 1)[-1], reverse=True)
    return [orjson.loads(runs.read_bytes(key)) for key in keys[:limit]]


@app.command()
def status(fmt: OutputFormat = "table") -> None:
    """Show the lake's zones with file counts and sizes, the last runs and alerts.

    Says which lake.toml is in use. The local catalog is checked too: damaged rows are
    listed one per line, and a catalog that is damaged or cannot be read at all makes the
    command exit 1 (after the rest of the status), since crawls, the ETL and queries of the
    damaged tables will fail. --format json prints all of it as one JSON document.
    """
    check_format(fmt, ("table", "json"))
    settings = get_settings()
    usages = zone_usage(settings)
    runs = settings.store(Zone.RUNS)
    pipeline_runs = recent_runs(runs, PIPELINE, limit=5)
    ingests = _recent_ingests(runs)
    alerts = AlertLog(runs).recent(limit=5)
    if fmt == "json":
        problems, damage = _catalog_problems(settings)
        emit_json(
            {
                "profile": settings.profile,
                "config": settings.config_source,
                "database": settings.database,
                "zones": [
                    {
                        "zone": u.zone.value,
                        "files": u.files,
                        "bytes": u.bytes,
                        "location": u.uri,
                    }
                    for u in usages
                ],
                "catalog_problems": problems,
                "pipeline_runs": [run.to_dict() for run in pipeline_runs],
                "ingests": ingests,
                "alerts": [asdict(alert) for alert in alerts],
            }
        )
        if damage is not None:
            raise damage
        return

    out.print(f"config: {_config_line(settings)}", markup=False)
    table = Table(title=f"lake ({settings.profile} profile)", title_justify="left")
    table.add_column("zone")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    table.add_column("location", overflow="fold")
    for usage in usages:
        table.add_row(usage.zone.value, f"{usage.files:,}", human_bytes(usage.bytes), usage.uri)
    out.print(table)
    out.print(f"catalog database: {settings.database}")
    damage = _catalog_damage(settings)

    if pipeline_runs:
        table = Table(title="pipeline runs", title_justify="left")
        for column in ("date", "status", "stages", "attempts", "notes"):
            table.add_column(column, overflow="fold")
        for run in pipeline_runs:
            stages = ", ".join(f"{s.name} {s.status}" for s in run.stages)
            problem = next((f"{s.name}: {s.error}" for s in run.stages if s.error), "")
            table.add_row(run.run_date, run.status, stages, str(run.attempts), problem)
        out.print(table)

    if ingests:
        table = Table(title="recent ingests", title_justify="left")
        for column in ("run", "source", "read", "landed", "quarantined", "contract"):
            table.add_column(column, justify="right" if column in _COUNTS else "left")
        for ingest_run in ingests:
            table.add_row(
                str(ingest_run["run_id"]),
                str(ingest_run["source"]),
                *(f"{int(str(ingest_run[k])):,}" for k in _COUNTS),
                # Runs landed with --no-contract stand out: nothing validated their records.
                "applied" if ingest_run.get("validated", True) else "none (--no-contract)",
            )
        out.print(table)

    if alerts:
        out.print("recent alerts:")
        for alert in alerts:
            out.print(f"  {alert.line()}", markup=False)
    if damage is not None:
        raise damage


def _config_line(settings: Settings) -> str:
    """Which lake.toml is in use, or that none was found (built-in defaults)."""
    if settings.config_source:
        return settings.config_source
    return (
        f"no lake.toml found from {Path.cwd()} upwards: built-in defaults (run from the "
        "project folder, or set LAKE_CONFIG)"
    )


def _catalog_problems(settings: Settings) -> tuple[list[str], CatalogError | None]:
    """The local catalog's problems and the error to exit with, without printing."""
    if not settings.is_local:
        return [], None
    from lakelib.catalog import CATALOG_FILE, LocalCatalog
    from lakelib.catalog._local import REPAIR

    catalog = LocalCatalog(settings.home / CATALOG_FILE, settings.database)
    try:
        problems = catalog.check()
    except CatalogError as exc:
        return [f"UNREADABLE ({catalog.path})"], exc
    if not problems:
        return [], None
    return problems, CatalogError(
        f"catalog {catalog.path} has {len(problems)} problem(s), listed above; {REPAIR}"
    )


def _catalog_damage(settings: Settings) -> CatalogError | None:
    """Print the local catalog's problems; the error to exit with once the status is shown."""
    if not settings.is_local:
        return None  # Glue keeps its own catalog consistent
    from lakelib.catalog import CATALOG_FILE, LocalCatalog
    from lakelib.catalog._local import REPAIR

    catalog = LocalCatalog(settings.home / CATALOG_FILE, settings.database)
    try:
        problems = catalog.check()
    except CatalogError as exc:
        out.print(f"catalog: UNREADABLE ({catalog.path})", markup=False)
        return exc
    if not problems:
        if catalog.path.exists():
            out.print("catalog: checked, no problems", markup=False)
        return None
    out.print(f"catalog: {len(problems)} problem(s) in {catalog.path}", markup=False)
    for line in problems:
        out.print(f"  problem: {line}", markup=False)
    return CatalogError(
        f"catalog {catalog.path} has {len(problems)} problem(s), listed above; {REPAIR}"
    )
