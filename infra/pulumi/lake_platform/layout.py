"""The names this program shares with lakelib, read from ``lakelib/layout.toml``.

lakelib reads the same file (``lakelib/config/_layout.py``): the zone layout (which bucket and
prefix each zone uses), the keys in the scripts bucket and the Step Functions placeholders
are written once, there. ``tests/infra/test_shared_layout.py`` fails when a copy of one of
them appears as a literal in this program.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

LAYOUT_FILE = Path(__file__).resolve().parents[3] / "lakelib" / "layout.toml"


def _read() -> dict[str, Any]:
    with LAYOUT_FILE.open("rb") as handle:
        return tomllib.load(handle)


_LAYOUT = _read()

# zone -> (stack output naming its bucket, prefix in that bucket)
ZONES: dict[str, tuple[str, str]] = {
    zone: (str(where["bucket"]), str(where["prefix"])) for zone, where in _LAYOUT["zones"].items()
}
QUARANTINE_PREFIX = ZONES["quarantine"][1]  # quarantine/ inside the processed bucket
SCRIPTS_PREFIX = ZONES["scripts"][1]  # jobs/: job scripts, the bootstrap, libraries
MODELS_PREFIX = ZONES["models"][1]  # models/: the model registry and artifacts
RUNS_PREFIX = ZONES["runs"][1]  # runs/: run records, reports, executed notebooks

_SCRIPTS: dict[str, str] = {key: str(value) for key, value in _LAYOUT["scripts"].items()}
CONFIG_KEY = _SCRIPTS["config"]  # the workspace config (LAKE_CONFIG)
LIB_PREFIX = _SCRIPTS["libraries"]  # lakelib's wheel and the wheelhouses
ML_JOBS_PREFIX = _SCRIPTS["ml_jobs"]  # training inputs, bundles, plans, checkpoints
NOTEBOOKS_PREFIX = _SCRIPTS["notebooks"]  # the notebooks the processing jobs run
ETL_STATE_PREFIX = _SCRIPTS["etl_state"]  # per-job locks, checkpoints, run records

# zone -> prefix of its catalog table names (raw_, quarantine_): the crawlers' table_prefix
TABLE_PREFIXES: dict[str, str] = {k: str(v) for k, v in _LAYOUT["table_prefixes"].items()}
LAMBDA_QUARANTINE_PREFIX = str(_LAYOUT["raw_bucket"]["lambda_quarantine"])  # Lambda's rejects
LAMBDA_STATE_PREFIX = str(_LAYOUT["raw_bucket"]["lambda_state"])  # Lambda's landing state

# The scikit-learn framework image lakelib trains and serves on (region -> registry account)
SKLEARN_IMAGE_REPOSITORY = str(_LAYOUT["sklearn_image"]["repository"])
SKLEARN_IMAGE_REGISTRIES: dict[str, str] = {
    k: str(v) for k, v in _LAYOUT["sklearn_image"]["registries"].items()
}


def placeholder_name(kind: str, **names: str) -> str:
    """The name inside a ``${...}`` placeholder: ``placeholder_name("glue_job", name="curate")``
    is ``job_curate``."""
    return str(_LAYOUT["placeholders"][kind]).format(**names)
