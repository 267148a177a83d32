"""The one place boto3 clients are made.

Every AWS call in the library goes through :func:`client`, which honours endpoint overrides
so that moto server on 127.0.0.1 can stand in for AWS in tests: ``LAKE_AWS_ENDPOINT_URL``
first, then boto3's own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``.
Retries use botocore's adaptive mode, which backs off on throttling errors only.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["client", "use_profile"]

# The credentials profile chosen on the command line (``lake --aws-profile NAME``).
_profile: str | None = None
# AWS_PROFILE as it was before a profile was chosen, restored by ``use_profile(None)``.
_env_before: str | None = None


def use_profile(name: str | None) -> None:
    """Make ``name`` (a profile of ``~/.aws/config``) the credentials of every AWS call.

    :func:`client` builds its sessions from it, and ``AWS_PROFILE`` is set too, so that
    sessions made by libraries (awswrangler) and child processes use the same credentials.
    ``None`` goes back to boto3's own choice.

    Raises
    ------
    ConfigError
        the profile is not in the AWS config or credentials files.
    """
    global _profile, _env_before
    if name is None:
        if _profile is not None:  # undo what choosing it did to the environment
            if _env_before is None:
                os.environ.pop("AWS_PROFILE", None)
            else:
                os.environ["AWS_PROFILE"] = _env_before
        _profile = None
        return
    import boto3
    from botocore.exceptions import ProfileNotFound

    from lakelib.errors import ConfigError

    try:
        boto3.Session(profile_name=name)
    except ProfileNotFound as exc:
        known = ", ".join(boto3.Session().available_profiles) or "none"
        raise ConfigError(
            f"AWS profile {name!r} not found in the AWS config and credentials files "
            f"(profiles there: {known})"
        ) from exc
    if _profile is None:
        _env_before = os.environ.get("AWS_PROFILE")
    _profile = name
    os.environ["AWS_PROFILE"] = name


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

    session = session or boto3.Session(profile_name=_profile)
    endpoint = os.environ.get("LAKE_AWS_ENDPOINT_URL") or None
    config = Config(retries={"max_attempts": 5, "mode": "adaptive"})
    region = region or session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
    return session.client(service, region_name=region, endpoint_url=endpoint, config=config)
