"""The body of ``jobs/*.py``: Glue-style arguments -> settings -> one in-process ETL run.

The same script runs under ``spark-submit`` locally, as a Glue 5 job and as an EMR step::

    spark-submit jobs/sales_clean.py --JOB_NAME sales_clean [--full true] [--since 2026-01-05]
        [--lake_home PATH | --raw_bucket B --processed_bucket B --curated_bucket B
         --scripts_bucket B --database D] [--LAKE_CONFIG lake.toml|s3://.../lake.toml]
        [--pipeline daily --stage etl]

Glue passes ``--JOB_NAME`` and its own options (``--TempDir``, ``--job-bookmark-option``,
...); anything not listed above is ignored. ``--LAKE_CONFIG`` (``--config`` is the older
spelling) becomes the ``LAKE_CONFIG`` variable before settings load: the Pulumi program gives
every job ``--LAKE_CONFIG s3://<scripts bucket>/config/lake.toml``. On the ``aws`` profile a
job without a config it can read fails (one line naming ``LAKE_CONFIG``) instead of running
without the workspace's contracts.

On AWS the job prints its stage metrics as one bare CloudWatch EMF line on stdout
(dimensions ``Pipeline`` and ``Stage``); logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

log = logging.getLogger(__name__)

_BUCKET_ENV = {
    "raw_bucket": "LAKE_RAW_BUCKET",
    "processed_bucket": "LAKE_PROCESSED_BUCKET",
    "curated_bucket": "LAKE_CURATED_BUCKET",
    "scripts_bucket": "LAKE_SCRIPTS_BUCKET",
    "database": "LAKE_DATABASE",
    "region": "LAKE_REGION",
}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _truthy(text: str | None) -> bool:
    return str(text).strip().lower() in {"1", "true", "yes", "y", "on"}


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """``--LAKE_CONFIG`` (how Glue and EMR pass it) and its older spelling ``--config``."""
    parser.add_argument("--LAKE_CONFIG", "--config", dest="config", default=None)


def apply_config_argument(value: str | None) -> None:
    """Make a job's ``--LAKE_CONFIG`` argument the ``LAKE_CONFIG`` variable settings read."""
    from lakelib.config import CONFIG_ENV

    if value:
        os.environ[CONFIG_ENV] = value


def parse_job_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lakelib job", add_help=True, allow_abbrev=False)
    parser.add_argument("--JOB_NAME", dest="job_name", default=None)
    parser.add_argument("--full", nargs="?", const="true", default="false")
    parser.add_argument("--since", default=None)
    parser.add_argument("--lake_home", default=None)
    add_config_argument(parser)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--pipeline", default=None)
    parser.add_argument("--stage", default=None)
    for name in _BUCKET_ENV:
        parser.add_argument(f"--{name}", default=None)
    args, unknown = parser.parse_known_args(list(argv))
    if unknown:
        log.info("ignoring job arguments %s", " ".join(unknown))
    return args


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(job: str, argv: Sequence[str] | None = None) -> int:
    """Run ``job`` (a name in :data:`~lakelib.etl.ETL_JOBS`) with Glue-style arguments.

    Returns 0 on success, 1 (after one line on stderr) when the job failed.
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    args = parse_job_args(sys.argv[1:] if argv is None else argv)
    apply_config_argument(args.config)
    buckets = {k: getattr(args, k) for k in _BUCKET_ENV if getattr(args, k)}
    for key, value in buckets.items():
        os.environ[_BUCKET_ENV[key]] = value
    profile = args.profile or ("aws" if "raw_bucket" in buckets else None)

    from lakelib.config import configure
    from lakelib.errors import LakeError
    from lakelib.etl._jobs import ETL_JOBS
    from lakelib.etl._run import run_etl
    from lakelib.pipeline._daily import PIPELINE

    pipeline = args.pipeline or PIPELINE
    stage = args.stage or (ETL_JOBS[job].stage if job in ETL_JOBS else job)
    settings = None
    try:
        settings = configure(profile=profile, home=args.lake_home, require_config=True)
        runs = run_etl(
            job,
            full=_truthy(args.full),
            since=date.fromisoformat(args.since) if args.since else None,
            settings=settings,
        )
    except LakeError as exc:
        print(f"{job}: {one_line(exc)}", file=sys.stderr, flush=True)
        if (settings is not None and not settings.is_local) or (
            settings is None and profile == "aws"
        ):
            _emit(settings, pipeline, stage, {"failures": 1})
        return 1
    for run in runs:
        log.info("%s %s: %s", run.job, run.run_id, run.as_dict())
    if not settings.is_local:
        metrics = ETL_JOBS[job].metrics(runs[0]) if runs else {}
        duration = sum(run.duration_s for run in runs)
        _emit(settings, pipeline, stage, {**metrics, "duration_s": duration, "failures": 0})
    return 0


def _emit(settings: Any, pipeline: str, stage: str, metrics: dict[str, Any]) -> None:
    from lakelib.monitor import emit_stage_metrics

    emit_stage_metrics(metrics, pipeline=pipeline, stage=stage, settings=settings)
