"""The names shared with the Pulumi program, read from ``lakelib/layout.toml``.

The program reads the same file (``infra/pulumi/lake_platform/layout.py``); keep names that
both sides need there, not as literals in either.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any


@functools.cache
def shared_layout() -> dict[str, Any]:
    """The parsed ``layout.toml`` (zones, scripts-bucket keys, placeholders)."""
    return tomllib.loads(resources.files("lakelib").joinpath("layout.toml").read_text())


def placeholder(kind: str, **names: str) -> str:
    """A Step Functions placeholder, e.g. ``placeholder("glue_job", name="curate")`` is
    ``${job_curate}``."""
    return "${" + str(shared_layout()["placeholders"][kind]).format(**names) + "}"


def table_prefix(zone: str) -> str:
    """The catalog-name prefix of a zone's tables (``raw_``, ``quarantine_``, or none)."""
    return str(shared_layout()["table_prefixes"].get(zone, ""))


def raw_bucket_prefix(name: str) -> str:
    """A prefix the ingestion Lambda keeps in the raw bucket (``lambda_quarantine`` ...)."""
    return str(shared_layout()["raw_bucket"][name])


def sklearn_image() -> tuple[str, dict[str, str]]:
    """The scikit-learn framework image: (repository, region -> ECR registry account)."""
    image = shared_layout()["sklearn_image"]
    return str(image["repository"]), {k: str(v) for k, v in image["registries"].items()}
