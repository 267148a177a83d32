"""``lake train / models / deploy / undeploy / serve / predict / transform``."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import OutputFormat, check_format, emit_rows, err, out
from lakelib.errors import MlError

models_app = typer.Typer(
    help="List, show, compare and promote model versions.", no_args_is_help=False
)
app.add_typer(models_app, name="models")

TARGETS = ("local", "sagemaker")
_MODEL_COLUMNS = (
    "model",
    "version",
    "promoted",
    "created",
    "roc_auc",
    "pr_auc",
    "first_event",
    "last_event",
    "source",
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return "-" if value is None else str(value)


def _hyperparameters(items: list[str] | None) -> dict[str, str]:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"use name=value, not {item!r}", param_hint="--hp")
        params[key.strip().replace("_", "-")] = value.strip()
    return params


@app.command("train")
def train_command(
    model: Annotated[
        str | None, typer.Option(help="Model name (default [ml] model_name, else churn).")
    ] = None,
    horizon_days: Annotated[int, typer.Option(min=1, help="Label: buys again within N days.")] = 30,
    min_history_days: Annotated[
        int, typer.Option(min=1, help="History a training cutoff needs before it.")
    ] = 14,
    step_days: Annotated[int, typer.Option(min=1, help="Days between training cutoffs.")] = 7,
    hp: Annotated[
        list[str] | None,
        typer.Option("--hp", help="Hyperparameter name=value (max-iter, learning-rate, ...)."),
    ] = None,
    promote: Annotated[
        str, typer.Option(help="auto (if at least as good as the live one) | always | never.")
    ] = "auto",
    target: Annotated[str, typer.Option(help="local | sagemaker (script mode on SageMaker).")] = (
        "local"
    ),
) -> None:
    """Train a model on sales_clean (features as of cutoffs) and register a new version."""
    from lakelib.ml import train

    if promote not in ("auto", "always", "never"):
        raise typer.BadParameter("use auto, always or never", param_hint="--promote")
    if target not in TARGETS:
        raise typer.BadParameter(f"use one of: {', '.join(TARGETS)}", param_hint="--target")
    backend = None
    if target == "sagemaker":
        from lakelib.ml import SageMakerTrainer

        backend = SageMakerTrainer()
    with err.status("training"):
        result = train(
            model=model,
            horizon_days=horizon_days,
            min_history_days=min_history_days,
            step_days=step_days,
            hyperparameters=_hyperparameters(hp),
            promote=promote,  # type: ignore[arg-type]
            backend=backend,
        )
    metrics = result.metrics
    table = Table(title=f"{result.version.model} {result.version.version}", title_justify="left")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("baseline: prior", justify="right")
    table.add_column("baseline: recency", justify="right")
    table.add_row(
        "ROC AUC",
        _fmt(metrics.get("roc_auc")),
        _fmt(metrics.get("baseline_prior_roc_auc")),
        _fmt(metrics.get("baseline_recency_roc_auc")),
    )
    table.add_row(
        "PR AUC",
        _fmt(metrics.get("pr_auc")),
        _fmt(metrics.get("baseline_prior_pr_auc")),
        _fmt(metrics.get("baseline_recency_pr_auc")),
    )
    out.print(table)
    plan = result.plan
    out.print(
        f"train cutoffs {', '.join(c.isoformat() for c in plan.train)}; test cutoff "
        f"{plan.test}; {int(metrics.get('train_rows', 0)):,} train / "
        f"{int(metrics.get('test_rows', 0)):,} test rows"
    )
    for note in result.notes:
        out.print(f"note: {note}")
    state = "promoted (live)" if result.promoted else "not promoted"
    out.print(f"{result.version.version} {state}: {result.version.artifact}")


@models_app.callback(invoke_without_command=True)
def models_list(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    fmt: OutputFormat = "table",
) -> None:
    """Versions of a model with their test metrics; * marks the promoted one."""
    if ctx.invoked_subcommand is not None:
        return
    from lakelib.ml import ModelRegistry

    check_format(fmt)
    registry = ModelRegistry(model)
    live = registry.promoted_version()
    rows = [
        {
            "model": registry.name,
            "version": entry.version,
            "promoted": entry.version == live,
            "created": entry.created_at,
            "roc_auc": entry.metrics.get("roc_auc"),
            "pr_auc": entry.metrics.get("pr_auc"),
            "first_event": entry.training_data.get("first_event"),
            "last_event": entry.training_data.get("last_event"),
            "source": entry.source,
        }
        for entry in registry.versions()
    ]
    if emit_rows(rows, list(_MODEL_COLUMNS), fmt):
        return
    table = Table(title=f"model {registry.name}", title_justify="left")
    for name in ("", "version", "created", "ROC AUC", "PR AUC", "data", "source"):
        table.add_column(name)
    for entry in registry.versions():
        data = entry.training_data
        table.add_row(
            "*" if entry.version == live else "",
            entry.version,
            entry.created_at,
            _fmt(entry.metrics.get("roc_auc")),
            _fmt(entry.metrics.get("pr_auc")),
            f"{str(data.get('first_event', '?'))[:10]} .. {str(data.get('last_event', '?'))[:10]}",
            entry.source,
        )
    out.print(table)
    if not registry.versions():
        out.print("no versions yet: lake train")


@models_app.command("show")
def models_show(
    version: Annotated[str | None, typer.Argument(help="Version (default: promoted).")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
) -> None:
    """One version's registry entry as JSON (features, metrics, data range, libraries)."""
    from lakelib.ml import ModelRegistry

    entry = ModelRegistry(model).get(version)
    sys.stdout.write(json.dumps(entry.as_dict(), indent=2, default=str) + "\n")


@models_app.command("compare")
def models_compare(
    first: Annotated[str, typer.Argument(help="A version, e.g. v1.")],
    second: Annotated[str, typer.Argument(help="Another version, e.g. v2.")],
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
) -> None:
    """Metrics of two versions side by side."""
    from lakelib.ml import ModelRegistry

    rows = ModelRegistry(model).compare(first, second)
    table = Table(title=f"{first} vs {second}", title_justify="left")
    for name in ("metric", first, second, "difference"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for metric, a, b in rows:
        diff = b - a if a is not None and b is not None else None
        table.add_row(metric, _fmt(a), _fmt(b), _fmt(diff))
    out.print(table)


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="The version to make live.")],
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
) -> None:
    """Make a version the live one (deploy and transform use it by default)."""
    from lakelib.ml import ModelRegistry

    entry = ModelRegistry(model).promote(version)
    out.print(f"{entry.model} {entry.version} is now promoted")


@app.command("deploy")
def deploy_command(
    target: Annotated[str, typer.Option(help="local | sagemaker.")] = "local",
    endpoint: Annotated[
        str | None, typer.Option(help="Endpoint name (default [ml] endpoint_name).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    version: Annotated[str | None, typer.Option(help="Version (default: promoted).")] = None,
    port: Annotated[int, typer.Option(help="Local: port (0 picks a free one).")] = 0,
    serverless: Annotated[
        bool, typer.Option("--serverless/--instance", help="SageMaker: serverless or instances.")
    ] = True,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the endpoint instead.")] = False,
) -> None:
    """Deploy the model to an endpoint: a background local server, or SageMaker."""
    from lakelib.ml import deploy_local

    if target not in TARGETS:
        raise typer.BadParameter(f"use one of: {', '.join(TARGETS)}", param_hint="--target")
    if stop:
        undeploy(endpoint)
        return
    if target == "sagemaker":
        from lakelib.ml import SageMakerDeployer

        arn = SageMakerDeployer().deploy(
            endpoint_name=endpoint, model=model, version=version, serverless=serverless
        )
        out.print(f"endpoint {arn} is being created (SageMaker)")
        return
    with err.status("starting the local endpoint"):
        record = deploy_local(endpoint, model=model, version=version, port=port)
    out.print(
        f"endpoint {record.name} serves {record.model} {record.version} at {record.url} "
        f"(pid {record.pid}; log {record.log})"
    )
    out.print(f"try: lake predict --endpoint {record.name} --data '<csv row>'")


@app.command("undeploy")
def undeploy(
    endpoint: Annotated[str | None, typer.Argument(help="Endpoint name.")] = None,
) -> None:
    """Stop a local endpoint started by lake deploy and forget its record."""
    from lakelib.ml import default_endpoint_name, stop_local

    name = endpoint or default_endpoint_name()
    if not stop_local(name):
        raise MlError(f"no endpoint {name!r} is recorded")
    out.print(f"endpoint {name} stopped")


@app.command("endpoints")
def endpoints_command(fmt: OutputFormat = "table") -> None:
    """Endpoints recorded in the lake and whether they run."""
    from lakelib.ml import list_endpoints

    check_format(fmt)
    found = list_endpoints()
    rows = [
        {
            "name": record.name,
            "target": record.target,
            "model": record.model,
            "version": record.version,
            "url": record.url,
            "pid": record.pid,
            "running": alive,
        }
        for record, alive in found
    ]
    if emit_rows(rows, ["name", "target", "model", "version", "url", "pid", "running"], fmt):
        return
    table = Table(title="endpoints", title_justify="left")
    for name in ("name", "target", "model", "version", "url", "pid", "running"):
        table.add_column(name)
    for record, alive in found:
        table.add_row(
            record.name, record.target, record.model, record.version, record.url,
            str(record.pid), "yes" if alive else "no",
        )  # fmt: skip
    out.print(table)


@app.command("serve")
def serve_command(
    endpoint: Annotated[str | None, typer.Option(help="Endpoint name it answers to.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    version: Annotated[str | None, typer.Option(help="Version (default: promoted).")] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8080,
    ready_file: Annotated[Path | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the local endpoint in the foreground: GET /ping, POST /invocations."""
    import os

    from lakelib.ml import serve_endpoint
    from lakelib.storage import atomic_write_bytes

    server = serve_endpoint(endpoint, model=model, version=version, host=host, port=port)
    names = ", ".join(sorted(server.endpoint_names))
    if server.problem:
        err.print(f"[red]{server.problem}[/red] (serving 503 until fixed)")
    err.print(f"endpoint {names} on {server.url} (POST /invocations; Ctrl-C to stop)")
    if ready_file is not None:
        document = {"url": server.url, "pid": os.getpid()}
        atomic_write_bytes(ready_file, json.dumps(document).encode())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("predict")
def predict_command(
    endpoint: Annotated[str | None, typer.Option(help="Endpoint name.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Body from a file ('-': stdin).")
    ] = None,
    data: Annotated[str | None, typer.Option(help="Body as text (CSV rows or JSON).")] = None,
    content_type: Annotated[str, typer.Option(help="text/csv | application/json.")] = "text/csv",
    accept: Annotated[
        str | None, typer.Option(help="Answer type (default: the content type).")
    ] = None,
) -> None:
    """Call an endpoint (local or SageMaker, by profile) and print its answer on stdout."""
    from lakelib.ml import predict

    if (file is None) == (data is None):
        raise typer.BadParameter("give exactly one of --file or --data")
    if file is not None:
        body = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    else:
        body = (data or "").replace("\\n", "\n").encode()
    answer, _ctype = predict(endpoint, body, content_type=content_type, accept=accept)
    sys.stdout.write(answer.decode("utf-8", "replace"))
    if answer and not answer.endswith(b"\n"):
        sys.stdout.write("\n")


@app.command("transform")
def transform_command(
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Score as of this day (default: after the last)."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    version: Annotated[str | None, typer.Option(help="Version (default: promoted).")] = None,
) -> None:
    """Batch transform: score every customer and write curated/predictions (cataloged)."""
    from lakelib.ml import batch_transform

    with err.status("scoring"):
        result = batch_transform(
            as_of=as_of.date() if as_of else None, model=model, version=version
        )
    out.print(
        f"scored {result.rows:,} customers as of {result.as_of} with {result.model} "
        f"{result.version}: {result.positive_share:.1%} predicted to buy again; {result.uri}"
    )
