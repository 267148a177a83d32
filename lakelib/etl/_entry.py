"""The body of ``jobs/*.py``: Glue-style arguments -> settings -> one in-process ETL run.

The same script runs under ``spark-submit`` locally, as a Glue 5 job and as an EMR step::

    spark-submit jobs/sales_clean.py --JOB_NAME sales_clean [--full true] [--since 2026-01-05]
        [--lake_home PATH | --raw_bucket B --processed_bucket B --curated_bucket B
         --scripts_bucket B --database D] [--config lake.toml|s3://.../lake.toml]

Glue passes ``--JOB_NAME`` and its own options (``--TempDir``, ``--job-bookmark-option``,
...); anything not listed above is ignored.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import date

log = logging.getLogger(__name__)

_BUCKET_ENV = {
    "raw_bucket": "LAKE_RAW_BUCKET",
    "processed_bucket": "LAKE_PROCESSED_BUCKET",
    "curated_bucket": "LAKE_CURATED_BUCKET",
    "scripts_bucket": "LAKE_SCRIPTS_BUCKET",
    "database": "LAKE_DATABASE",
    "region": "LAKE_REGION",
}


def _truthy(text: str | None) -> bool:
    return str(text).strip().lower() in {"1", "true", "yes", "y", "on"}


def parse_job_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lakelib job", add_help=True, allow_abbrev=False)
    parser.add_argument("--JOB_NAME", dest="job_name", default=None)
    parser.add_argument("--full", nargs="?", const="true", default="false")
    parser.add_argument("--since", default=None)
    parser.add_argument("--lake_home", default=None)
    parser.add_argument("--config", default=None)
    parser.add_argument("--profile", default=None)
    for name in _BUCKET_ENV:
        parser.add_argument(f"--{name}", default=None)
    args, unknown = parser.parse_known_args(list(argv))
    if unknown:
        log.info("ignoring job arguments %s", " ".join(unknown))
    return args


def _fetch_config(uri: str) -> str:
    """A local path for ``lake.toml`` named by path or ``s3://`` URI."""
    if not uri.startswith("s3://"):
        return uri
    from lakelib.storage import S3Store

    folder, _, name = uri.rpartition("/")
    data = S3Store(folder).read_bytes(name)
    with tempfile.NamedTemporaryFile(prefix="lake-", suffix=".toml", delete=False) as handle:
        handle.write(data)
    return handle.name


def main(job: str, argv: Sequence[str] | None = None) -> int:
    """Run ``job`` (``sales_clean`` or ``curate``) with Glue-style arguments; 0 on success."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = parse_job_args(sys.argv[1:] if argv is None else argv)
    if args.config:
        os.environ["LAKE_CONFIG"] = _fetch_config(args.config)
    buckets = {k: getattr(args, k) for k in _BUCKET_ENV if getattr(args, k)}
    for key, value in buckets.items():
        os.environ[_BUCKET_ENV[key]] = value
    profile = args.profile or ("aws" if "raw_bucket" in buckets else None)

    from lakelib.config import configure
    from lakelib.errors import LakeError
    from lakelib.etl._run import run_etl

    settings = configure(profile=profile, home=args.lake_home)
    try:
        runs = run_etl(
            job,
            full=_truthy(args.full),
            since=date.fromisoformat(args.since) if args.since else None,
            settings=settings,
        )
    except LakeError as exc:
        log.error("%s: %s", job, exc)
        return 1
    for run in runs:
        log.info("%s %s: %s", run.job, run.run_id, run.as_dict())
    return 0
