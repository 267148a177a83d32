"""The one place boto3 clients are made.

Every AWS call in the library goes through :func:`client`, which honours endpoint overrides
so that moto server on 127.0.0.1 can stand in for AWS in tests: ``LAKE_AWS_ENDPOINT_URL``
first, then boto3's own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``.
Retries use botocore's adaptive mode, which backs off on throttling errors only.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["client"]


def client(service: str, session: Any = None, region: str | None = None) -> Any:
    """A boto3 client for ``service``.

    Parameters
    ----------
    service:
        boto3 service name, e.g. ``"s3"``, ``"glue"``, ``"athena"``.
    session:
        an existing ``boto3.Session``; a default one is made when omitted.
    region:
        overrides the session's region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
    """
    import boto3  # deferred: importing lakelib never imports boto3
    from botocore.config import Config

    session = session or boto3.Session()
    endpoint = os.environ.get("LAKE_AWS_ENDPOINT_URL") or None
    config = Config(retries={"max_attempts": 5, "mode": "adaptive"})
    region = region or session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
    return session.client(service, region_name=region, endpoint_url=endpoint, config=config)
