"""Glue job ``pipeline_stage``: one stage of the daily pipeline; the work is in lakelib.

The Step Functions export of the daily pipeline (``lake run --export-step-functions``) runs
the stages without an AWS service of their own (transform, report, notebooks) as::

    pipeline_stage.py --stage <train|transform|report|notebooks> --run_date 2026-03-01[T02:00:00Z]
        [--step prepare|register --execution NAME [--model_artifact s3://.../model.tar.gz]]
        [--profile aws] [--LAKE_CONFIG lake.toml|s3://.../lake.toml] [--pipeline daily]
        [--raw_bucket B --processed_bucket B --curated_bucket B --scripts_bucket B
         --query_results_bucket B --database D --alerts_topic_arn ARN --region R]

``--run_date`` may be a timestamp (the execution's ``$$.Execution.StartTime``): its first 10
characters are the date. The names (``--raw_bucket`` ...) become the ``LAKE_*`` variables
the ``aws`` profile reads, ``--LAKE_CONFIG`` (``--config``) becomes ``LAKE_CONFIG``; Glue's
own arguments (``--JOB_NAME``, ``--job-bookmark-option``, ``--TempDir`` ...) are ignored.
Without a config it can read the stage refuses to run (the report's alert rules, the
contracts and the model settings are in it).

stdout carries only the stage's metrics, as one bare CloudWatch EMF line (dimensions
``Pipeline``, ``Stage``); logs go to stderr. Exits 1 with a one-line message on stderr when
lakelib refuses (a ``LakeError``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from lakelib.config._settings import AWS_OUTPUT_ENV
from lakelib.etl._entry import LOG_FORMAT, add_config_argument, apply_config_argument, one_line

log = logging.getLogger("pipeline_stage")


def run_date(text: str) -> dt.date:
    """``2026-03-01`` or ``2026-03-01T02:00:00Z`` (any ISO timestamp) -> the date."""
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or timestamp: {text!r}") from None


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, dict[str, str]]:
    """The stage, its run date, profile and config; plus the ``LAKE_*`` variables to set."""
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
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    args, env = parse_args(sys.argv[1:] if argv is None else argv)
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
