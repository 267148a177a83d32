"""Typed settings: explicit argument > ``LAKE_*`` env > ``lake.toml`` > default.

Nothing here runs at import time; :func:`get_settings` loads once, on first use.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lakelib.config._layout import shared_layout
from lakelib.config._schema import LakeConfig, parse_config
from lakelib.errors import ConfigError

if TYPE_CHECKING:
    from lakelib.storage import Store

CONFIG_FILE = "lake.toml"
# The workspace config a job, function or stage reads: a path or an ``s3://`` URI.
CONFIG_ENV = "LAKE_CONFIG"
# Where the Pulumi program uploads the workspace config in the scripts bucket.
AWS_CONFIG_KEY: str = shared_layout()["scripts"]["config"]
PROFILES = ("local", "aws")
DEFAULT_DATABASE = "data_lake_db"
DEFAULT_WORKGROUPS = ("primary", "analytics", "ml_data")


class Zone(StrEnum):
    """Areas of the lake. Values are the local folder names under ``LAKE_HOME``."""

    RAW = "raw"
    PROCESSED = "processed"
    CURATED = "curated"
    QUARANTINE = "quarantine"
    SCRIPTS = "scripts"
    MODELS = "models"
    QUERY_RESULTS = "query-results"
    RUNS = "runs"


# Where each zone lives on AWS: (stack output / env name of the bucket, prefix in it), from
# lakelib/layout.toml, which the Pulumi program reads too.
AWS_ZONE_LAYOUT: Mapping[Zone, tuple[str, str]] = MappingProxyType(
    {
        Zone(name): (str(where["bucket"]), str(where["prefix"]))
        for name, where in shared_layout()["zones"].items()
    }
)
# Env names accepted for each stack output, first wins. ``S3_RAW_BUCKET`` is the
# ingestion Lambda's variable in the reference architecture.
AWS_OUTPUT_ENV: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "raw_bucket": ("LAKE_RAW_BUCKET", "S3_RAW_BUCKET"),
        "processed_bucket": ("LAKE_PROCESSED_BUCKET",),
        "curated_bucket": ("LAKE_CURATED_BUCKET",),
        "scripts_bucket": ("LAKE_SCRIPTS_BUCKET",),
        "query_results_bucket": ("LAKE_QUERY_RESULTS_BUCKET",),
        "database": ("LAKE_DATABASE",),
        "alerts_topic_arn": ("LAKE_ALERTS_TOPIC_ARN",),
        "sagemaker_role_arn": ("LAKE_SAGEMAKER_ROLE_ARN",),
        "glue_role_arn": ("LAKE_GLUE_ROLE_ARN",),
        # Where SageMaker jobs and models run on the aws profile: the lake's private subnets
        # (comma-separated), its workload security group and the KMS key for volumes/output.
        "sagemaker_subnets": ("LAKE_SAGEMAKER_SUBNETS",),
        "sagemaker_security_group": ("LAKE_SAGEMAKER_SECURITY_GROUP",),
        "sagemaker_kms_key_arn": ("LAKE_SAGEMAKER_KMS_KEY_ARN",),
        "region": ("LAKE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    }
)


@dataclass(frozen=True)
class Workgroup:
    """An Athena workgroup: where its results go and how much one query may scan."""

    name: str
    bytes_scanned_cutoff: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything the library needs to know about where the lake is and what things are called.

    Build it with :func:`load_settings`; read the current one with :func:`get_settings`.
    """

    profile: str
    project_root: Path
    config_file: Path | None
    home: Path
    database: str
    zones: Mapping[Zone, str | None]
    workgroups: Mapping[str, Workgroup]
    region: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    document: Mapping[str, Any] = field(default_factory=dict)
    config_uri: str | None = None  # the s3:// URI the config came from, when not a file
    # ``document`` checked and typed (every section of lake.toml; see config/_schema.py).
    config: LakeConfig = field(default_factory=LakeConfig)
    # The zone stores made so far: one per zone for the life of these settings.
    _stores: dict[Zone, Store] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def config_source(self) -> str | None:
        """Where the config was read from (a path or an ``s3://`` URI), for messages."""
        if self.config_uri:
            return self.config_uri
        return str(self.config_file) if self.config_file else None

    @property
    def is_local(self) -> bool:
        return self.profile == "local"

    def zone_uri(self, zone: Zone | str) -> str:
        """Root of a zone: a local folder path, or ``s3://bucket/prefix/`` on AWS."""
        zone = _zone(zone)
        uri = self.zones.get(zone)
        if not uri:
            bucket, _ = AWS_ZONE_LAYOUT[zone]
            envs = " or ".join(AWS_OUTPUT_ENV[bucket])
            raise ConfigError(
                f"the {self.profile} profile has no location for zone '{zone}': set {envs}, "
                f"or write the Pulumi stack outputs to the file named by LAKE_STACK_OUTPUTS"
            )
        return uri

    def store(self, zone: Zone | str) -> Store:
        """The store rooted at ``zone`` (made on first use, then the same one)."""
        zone = _zone(zone)
        found = self._stores.get(zone)
        if found is None:
            from lakelib.storage import open_store

            found = self._stores[zone] = open_store(self.zone_uri(zone))
        return found

    def workgroup(self, name: str) -> Workgroup:
        try:
            return self.workgroups[name]
        except KeyError:
            known = ", ".join(sorted(self.workgroups))
            raise ConfigError(f"unknown workgroup {name!r} (known: {known})") from None

    def section(self, name: str) -> Mapping[str, Any]:
        """A top-level table of ``lake.toml`` as written (``{}`` when absent).

        Its keys and types were checked at load; :attr:`config` has the same typed.
        """
        value = self.document.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{name}] in {self.config_file} must be a table")
        return value

    def path(self, relative: str | Path) -> Path:
        """A path relative to the project root (the folder holding ``lake.toml``)."""
        return (self.project_root / relative).resolve()


def _zone(zone: Zone | str) -> Zone:
    try:
        return Zone(zone)
    except ValueError:
        known = ", ".join(z.value for z in Zone)
        raise ConfigError(f"unknown zone {zone!r} (known: {known})") from None


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``lake.toml`` in ``start`` or any parent folder, or ``None``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_s3_config(uri: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Parse the ``lake.toml`` at ``s3://bucket/key`` (how Pulumi ships it to every job)."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ConfigError(f"{CONFIG_ENV}={uri} is not an s3://bucket/key URI")
    from botocore.exceptions import BotoCoreError, ClientError

    from lakelib.aws import client

    region = next((env[n] for n in AWS_OUTPUT_ENV["region"] if env.get(n)), None)
    try:
        body = client("s3", region=region).get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        why = f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
        raise ConfigError(f"cannot read {CONFIG_ENV}={uri}: {why}") from exc
    except BotoCoreError as exc:
        raise ConfigError(f"cannot read {CONFIG_ENV}={uri}: {exc}") from exc
    try:
        return tomllib.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{uri}: {exc}") from exc


def read_stack_outputs(path: Path) -> dict[str, str]:
    """Read ``pulumi stack output --json`` output: a flat JSON object of names."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"stack outputs file not found: {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read stack outputs {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"stack outputs {path} must be a JSON object")
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float)}


def _workgroups(config: LakeConfig) -> dict[str, Workgroup]:
    table = config.workgroups
    names = list(DEFAULT_WORKGROUPS) + [n for n in table if n not in DEFAULT_WORKGROUPS]
    groups = {}
    for name in names:
        spec = table.get(name)
        if spec is None:
            groups[name] = Workgroup(name)
            continue
        groups[name] = Workgroup(name, spec.bytes_scanned_cutoff, spec.description or "")
    return groups


def load_settings(
    profile: str | None = None,
    home: str | Path | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    require_config: bool = False,
) -> Settings:
    """Build settings from arguments, ``LAKE_*`` env, ``lake.toml`` and defaults, in that order.

    The config is the one ``LAKE_CONFIG`` names (a path, or an ``s3://`` URI: what Pulumi
    gives every Lambda, Glue job, EMR step and pipeline stage), else the nearest ``lake.toml``
    walking up from ``cwd``. Relative paths in it are resolved against its folder, so a
    notebook in ``notebooks/`` and the CLI run from the project root see the same lake.

    Parameters
    ----------
    require_config:
        a job, function or stage on the ``aws`` profile passes ``True``: without a config it
        would run on defaults (no contracts, no alert rules), so that is a
        :class:`~lakelib.errors.ConfigError` naming ``LAKE_CONFIG`` instead.
    """
    env = os.environ if env is None else env
    cwd = (cwd or Path.cwd()).resolve()
    explicit = env.get(CONFIG_ENV, "").strip()
    config_uri: str | None = None
    config_file: Path | None
    if explicit.startswith("s3://"):
        config_uri, config_file = explicit, None
        document = read_s3_config(explicit, env)
        root = cwd
    else:
        config_file = Path(explicit).expanduser().resolve() if explicit else find_config(cwd)
        if explicit and config_file is not None and not config_file.is_file():
            raise ConfigError(f"{CONFIG_ENV} points to a missing file: {config_file}")
        document = read_config(config_file) if config_file else {}
        root = config_file.parent if config_file else cwd

    config = parse_config(document, config_uri or (str(config_file) if config_file else None))
    chosen = profile or env.get("LAKE_PROFILE") or config.workspace.default_profile or "local"
    if chosen not in PROFILES:
        raise ConfigError(f"unknown profile {chosen!r} (use one of: {', '.join(PROFILES)})")
    if require_config and chosen == "aws" and config_uri is None and config_file is None:
        raise ConfigError(
            f"no workspace config: {CONFIG_ENV} is not set and no {CONFIG_FILE} was found from "
            f"{cwd}; on AWS set {CONFIG_ENV}=s3://<scripts bucket>/{AWS_CONFIG_KEY} "
            f"(the Pulumi program uploads it and passes it to every job)"
        )
    if home is not None:
        home_path = Path(home).expanduser()
        home_path = home_path if home_path.is_absolute() else cwd / home_path
    elif env.get("LAKE_HOME"):
        home_path = Path(env["LAKE_HOME"]).expanduser()
        home_path = home_path if home_path.is_absolute() else cwd / home_path
    else:
        home_path = root / (config.profiles.local.home or ".lake")
    home_path = home_path.resolve()

    outputs: dict[str, str] = {}
    if chosen == "aws":
        outputs = _aws_outputs(config.profiles.aws.stack_outputs, root, env)
        zones: dict[Zone, str | None] = {}
        for zone, (bucket_key, prefix) in AWS_ZONE_LAYOUT.items():
            override = outputs.get(f"{zone.value.replace('-', '_')}_uri")
            bucket = outputs.get(bucket_key)
            zones[zone] = override or (f"s3://{bucket}/{prefix}" if bucket else None)
        region = outputs.get("region") or config.profiles.aws.region
    else:
        zones = {zone: str(home_path / zone.value) for zone in Zone}
        region = None

    database = (
        env.get("LAKE_DATABASE")
        or outputs.get("database")
        or config.catalog.database
        or DEFAULT_DATABASE
    )
    return Settings(
        profile=chosen,
        project_root=root,
        config_file=config_file,
        home=home_path,
        database=str(database),
        zones=MappingProxyType(zones),
        workgroups=MappingProxyType(_workgroups(config)),
        region=str(region) if region else None,
        outputs=MappingProxyType(outputs),
        document=MappingProxyType(document),
        config_uri=config_uri,
        config=config,
    )


def _aws_outputs(stack_outputs: str | None, root: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Names for the aws profile: env wins over the stack outputs file."""
    outputs: dict[str, str] = {}
    file_name = env.get("LAKE_STACK_OUTPUTS") or stack_outputs
    if file_name:
        path = Path(file_name).expanduser()
        path = path if path.is_absolute() else root / path
        # The file named in lake.toml is optional until `pulumi up` has written it.
        if path.is_file() or env.get("LAKE_STACK_OUTPUTS"):
            outputs.update(read_stack_outputs(path))
    for key, names in AWS_OUTPUT_ENV.items():
        for name in names:
            if env.get(name):
                outputs[key] = env[name]
                break
    # A whole zone can be pointed elsewhere: LAKE_QUARANTINE_URI=s3://bucket/prefix/ ...
    for zone in Zone:
        variable = f"LAKE_{zone.name}_URI"
        if env.get(variable):
            outputs[f"{zone.value.replace('-', '_')}_uri"] = env[variable]
    return outputs


_current: Settings | None = None


def get_settings() -> Settings:
    """The settings in force, loaded from env and ``lake.toml`` on first use."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def configure(
    profile: str | None = None, home: str | Path | None = None, *, require_config: bool = False
) -> Settings:
    """Load settings with explicit overrides and make them current (the CLI's global options,
    a job's arguments; see :func:`load_settings` for ``require_config``)."""
    global _current
    _current = load_settings(profile=profile, home=home, require_config=require_config)
    return _current


def aws_config_uri(settings: Settings) -> str:
    """The ``s3://`` URI of the workspace config on AWS (what EMR steps are given).

    The stack output ``lake_config_uri`` when known, else ``s3://<scripts bucket>/config/lake.toml``
    (where the Pulumi program uploads it).
    """
    if settings.config_uri:
        return settings.config_uri
    if settings.outputs.get("lake_config_uri"):
        return settings.outputs["lake_config_uri"]
    bucket = settings.outputs.get("scripts_bucket")
    if not bucket:
        names = " or ".join(AWS_OUTPUT_ENV["scripts_bucket"])
        raise ConfigError(f"no location for the workspace config on AWS: set {names}")
    return f"s3://{bucket}/{AWS_CONFIG_KEY}"


def reset_settings() -> None:
    """Forget the current settings; the next :func:`get_settings` reloads them."""
    global _current
    _current = None
