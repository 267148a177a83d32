"""SageMaker processing job entry point: one stage (or step) of the daily pipeline.

The Step Functions export of the daily pipeline (``lake run --export-step-functions``) runs
what has no AWS service of its own as SageMaker processing jobs of this script (the steps
around the training and transform jobs, the report, the notebooks with papermill)::

    python3 /opt/ml/processing/input/code/pipeline_stage.py
        --stage <train|transform|report|notebooks> --run_date 2026-03-01[T02:00:00Z]
        [--step prepare|register|catalog --execution NAME [--model_artifact s3://.../model.tar.gz]]
        [--profile aws] [--LAKE_CONFIG lake.toml|s3://.../lake.toml] [--pipeline daily]
        [--raw_bucket B --processed_bucket B ... (any stack output the aws profile reads)]

The container layout, as SageMaker mounts the job's inputs::

    /opt/ml/processing/input/code/pipeline_stage.py   this script
    /opt/ml/processing/input/wheels/                  jobs/lib/ of the scripts bucket
    /opt/ml/processing/input/notebooks/               the notebooks (notebooks stage only)

When ``lakelib`` is not importable the script first installs it from the wheelhouse with
``pip --no-index`` (the job's subnets reach no package index), then runs in
``/opt/ml/processing/input`` so the notebooks are found as ``notebooks/``. The stack's names
come as ``LAKE_*`` variables (the job's ``Environment``) or as ``--<stack output>``
arguments; ``--LAKE_CONFIG`` becomes ``LAKE_CONFIG``. ``--run_date`` may be a timestamp
(``$$.Execution.StartTime``): its first 10 characters are the date. Without a config it can
read the stage refuses to run (the alert rules, the contracts and the model settings are in
it).

stdout carries only the stage's metrics, as one bare CloudWatch EMF line (dimensions
``Pipeline``, ``Stage``); logs go to stderr. Exits 1 with a one-line message on stderr when
lakelib refuses (a ``LakeError``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("pipeline_stage")

# Where SageMaker mounts this script: <root>/input/code/pipeline_stage.py.
PROCESSING_ROOT = Path(__file__).resolve().parents[2]
WHEELS = PROCESSING_ROOT / "input" / "wheels"
# The wheelhouse with lakelib[aws]'s whole CPython 3.11 closure (build_artifacts.py).
WHEELHOUSE_GLOB = "lakelib-*-emr7.zip"
REQUIREMENT = "lakelib[aws]"


def install_lakelib(wheels: Path = WHEELS) -> list[str]:
    """``pip install --no-index`` lakelib from the wheelhouse input; the command run.

    Nothing to do (``[]``) when lakelib is importable already (an image that carries it).
    """
    if importlib.util.find_spec("lakelib") is not None:
        return []
    folder = Path(tempfile.mkdtemp(prefix="lakelib-wheels-"))
    for archive in sorted(wheels.glob(WHEELHOUSE_GLOB)):
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(folder)
    for wheel in sorted(wheels.glob("*.whl")):
        (folder / wheel.name).write_bytes(wheel.read_bytes())
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--quiet",
               "--find-links", str(folder), REQUIREMENT]  # fmt: skip
    subprocess.run(command, check=True)
    importlib.invalidate_caches()
    return command


def run_date(text: str) -> dt.date:
    """``2026-03-01`` or ``2026-03-01T02:00:00Z`` (any ISO timestamp) -> the date."""
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or timestamp: {text!r}") from None


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, dict[str, str]]:
    """The stage, its run date, profile and config; plus the ``LAKE_*`` variables to set."""
    from lakelib.config._settings import AWS_OUTPUT_ENV
    from lakelib.etl._entry import add_config_argument

    parser = argparse.ArgumentParser(prog="pipeline_stage", allow_abbrev=False)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--run_date", required=True, type=run_date)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--pipeline", default=None)
    # A step of a stage the state machine splits around an AWS service (train: prepare,
    # register), with that step's arguments.
    parser.add_argument("--step", default=None)
    parser.add_argument("--execution", default=None)
    parser.add_argument("--model_artifact", default=None)
    add_config_argument(parser)
    for name in AWS_OUTPUT_ENV:
        parser.add_argument(f"--{name}", default=None)
    args, unknown = parser.parse_known_args(list(argv))
    if unknown:
        log.info("ignoring job arguments %s", " ".join(unknown))
    env = {
        names[0]: getattr(args, name)
        for name, names in AWS_OUTPUT_ENV.items()
        if getattr(args, name)
    }
    return args, env


def main(argv: Sequence[str] | None = None) -> int:
    install_lakelib()
    from lakelib.etl._entry import LOG_FORMAT, apply_config_argument, one_line

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    args, env = parse_args(sys.argv[1:] if argv is None else argv)
    # The notebooks input is <root>/input/notebooks: the project's notebooks/ from here.
    if (PROCESSING_ROOT / "input" / "notebooks").is_dir():
        os.chdir(PROCESSING_ROOT / "input")
    os.environ.update(env)
    apply_config_argument(args.config)
    if args.profile:
        os.environ["LAKE_PROFILE"] = args.profile
    os.environ.setdefault("LAKE_PROFILE", "aws")

    from lakelib.config import configure
    from lakelib.errors import LakeError
    from lakelib.monitor import emit_stage_metrics
    from lakelib.pipeline import PIPELINE, run_stage

    pipeline = args.pipeline or PIPELINE
    settings = None
    started = time.perf_counter()
    try:
        settings = configure(require_config=True)
        options = {
            name: getattr(args, name)
            for name in ("execution", "model_artifact")
            if getattr(args, name)
        }
        metrics: dict[str, Any] = run_stage(
            args.stage, args.run_date, settings=settings, step=args.step, options=options
        )
    except LakeError as exc:
        print(f"pipeline_stage {args.stage} {args.run_date}: {one_line(exc)}", file=sys.stderr)
        if settings is None or not settings.is_local:
            # Also when the config could not be read: the failure alarm counts it.
            emit_stage_metrics(
                {"failures": 1}, pipeline=pipeline, stage=args.stage, settings=settings
            )
        return 1
    record = {"stage": args.stage, "run_date": args.run_date.isoformat(), "metrics": metrics}
    log.info("%s", json.dumps(record, default=str, sort_keys=True))
    if not settings.is_local:
        duration = round(time.perf_counter() - started, 3)
        emit_stage_metrics(
            {**metrics, "duration_s": duration, "failures": 0},
            pipeline=pipeline,
            stage=args.stage,
            settings=settings,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
