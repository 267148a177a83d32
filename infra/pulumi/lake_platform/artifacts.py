"""Artifacts layer: what the jobs read from the scripts bucket besides their own scripts.

- ``config/lake.toml``: the workspace config, named by ``LAKE_CONFIG`` in every Lambda,
  Glue job, EMR step and pipeline stage (lakelib refuses to run on the aws profile without
  it rather than land unvalidated records);
- ``jobs/emr_bootstrap.sh``: the EMR bootstrap action (installs lakelib with python3.11);
- ``jobs/lib/``: lakelib's wheel and the prebuilt wheelhouses from ``build_artifacts.py``
  (Glue 5's ``*.gluewheels.zip``, EMR 7's ``*.zip``), so nothing reaches a package index at
  job start (the private subnets have no NAT).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws.s3
from pulumi import ResourceOptions

from lake_platform.layout import CONFIG_KEY, LIB_PREFIX, SCRIPTS_PREFIX
from lake_platform.settings import PlatformConfigError, PlatformSettings

BOOTSTRAP_SCRIPT = "emr_bootstrap.sh"


@dataclass(frozen=True)
class Wheelhouse:
    """The files of a built wheelhouse folder (``build/wheelhouse``)."""

    lakelib_wheel: Path
    glue_zip: Path
    emr_zip: Path | None


def find_wheelhouse(folder: Path | None) -> Wheelhouse | None:
    """The newest lakelib wheel and the wheelhouse zips built next to it, or ``None``."""
    if folder is None or not folder.is_dir():
        return None

    def newest(pattern: str) -> Path | None:
        found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None

    wheel = newest("lakelib-*.whl")
    glue = newest("*.gluewheels.zip")
    if wheel is None or glue is None:
        return None
    emr = newest("*-emr7.zip")
    return Wheelhouse(wheel, glue, emr)


@dataclass
class ArtifactsArgs:
    """Inputs of :class:`Artifacts`."""

    settings: PlatformSettings
    scripts_bucket: pulumi.Input[str]


class Artifacts(pulumi.ComponentResource):
    """Uploads the config, the EMR bootstrap script and the wheelhouses to the scripts bucket.

    ``config_uri`` is always set (no config, no deployment); the others are ``None`` when
    their file was not built, with a warning naming the build step.
    """

    config_uri: pulumi.Output[str]
    bootstrap_uri: pulumi.Output[str] | None
    lakelib_wheel_uri: pulumi.Output[str] | None
    glue_modules_uri: pulumi.Output[str] | None
    emr_wheelhouse_uri: pulumi.Output[str] | None

    def __init__(self, name: str, args: ArtifactsArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Artifacts", name, None, opts)
        self._name, self._bucket = name, args.scripts_bucket
        s = args.settings
        self.objects: dict[str, pulumi_aws.s3.BucketObjectv2] = {}
        if not s.lake_toml.is_file():
            raise PlatformConfigError(
                f"no workspace config at {s.lake_toml}: the jobs, the Lambda and the pipeline "
                "read it from the scripts bucket (stack config lakeToml names another file)"
            )
        self.config_uri = self._upload("config", CONFIG_KEY, s.lake_toml, "application/toml")

        self.bootstrap_uri = None
        bootstrap = s.jobs_dir / BOOTSTRAP_SCRIPT
        if bootstrap.is_file():
            self.bootstrap_uri = self._upload(
                "emr-bootstrap",
                f"{SCRIPTS_PREFIX}{BOOTSTRAP_SCRIPT}",
                bootstrap,
                "text/x-shellscript",
            )

        self.lakelib_wheel_uri = self.glue_modules_uri = self.emr_wheelhouse_uri = None
        built = find_wheelhouse(s.wheelhouse)
        if built is None:
            if s.glue_jobs or s.deploys_state_machine or s.emr.enabled:
                pulumi.log.warn(
                    f"no wheelhouse at {s.wheelhouse} (run `python infra/pulumi/"
                    "build_artifacts.py`): Glue jobs and EMR steps will run without lakelib",
                    resource=self,
                )
        else:
            # File names stay valid wheel / zip names: pip and Glue read them.
            self.lakelib_wheel_uri = self._upload(
                "lakelib-wheel", LIB_PREFIX + built.lakelib_wheel.name, built.lakelib_wheel
            )
            self.glue_modules_uri = self._upload(
                "glue-wheelhouse", LIB_PREFIX + built.glue_zip.name, built.glue_zip
            )
            if built.emr_zip is not None:
                self.emr_wheelhouse_uri = self._upload(
                    "emr-wheelhouse", LIB_PREFIX + built.emr_zip.name, built.emr_zip
                )
        self.register_outputs(
            {
                "config_uri": self.config_uri,
                "glue_modules_uri": self.glue_modules_uri,
                "emr_wheelhouse_uri": self.emr_wheelhouse_uri,
            }
        )

    def _upload(
        self, suffix: str, key: str, path: Path, content_type: str | None = None
    ) -> pulumi.Output[str]:
        obj = pulumi_aws.s3.BucketObjectv2(
            f"{self._name}-{suffix}",
            bucket=self._bucket,
            key=key,
            source=pulumi.FileAsset(str(path)),
            content_type=content_type,
            opts=ResourceOptions(parent=self),
        )
        self.objects[key] = obj
        return pulumi.Output.concat("s3://", obj.bucket, "/", obj.key)
