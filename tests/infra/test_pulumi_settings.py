"""Settings of the Pulumi program: lake.toml names, stack-config overrides, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lake_platform.settings import PlatformConfigError, PlatformSettings, load_settings
from pulumi_harness import PROGRAM


class FakeConfig:
    """A dict standing in for ``pulumi.Config`` (values as the CLI stores them: strings)."""

    def __init__(self, **values: Any) -> None:
        self.values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def get_int(self, key: str) -> int | None:
        value = self.values.get(key)
        return None if value is None else int(value)

    def get_float(self, key: str) -> float | None:
        value = self.values.get(key)
        return None if value is None else float(value)

    def get_bool(self, key: str) -> bool | None:
        value = self.values.get(key)
        return None if value is None else value == "true"

    def get_object(self, key: str) -> Any:
        value = self.values.get(key)
        return None if value is None else json.loads(value)


def _load(program_dir: Path = PROGRAM, **config: Any) -> PlatformSettings:
    return load_settings(
        FakeConfig(**config),
        project="lakelib-platform",
        stack="dev",
        account_id="111122223333",
        region="eu-west-1",
        program_dir=program_dir,
    )


def test_defaults_follow_the_architecture() -> None:
    s = _load()
    assert s.database == "data_lake_db"
    assert list(s.workgroups) == ["primary", "analytics", "ml_data"]
    assert s.workgroups["ml_data"].bytes_scanned_cutoff == 50_000_000_000
    assert s.bucket_names["raw"] == "lake-dev-raw-111122223333"
    assert (s.raw_glacier_days, s.processed_expire_days) == (90, 365)
    assert not s.emr.enabled and not s.reporting.enabled and s.replication is None
    assert s.ingest.schedule == "cron(0 2 * * ? *)"
    assert s.monitoring.athena_daily_bytes == 20 * 10**12
    assert s.alerts_topic_arn == "arn:aws:sns:eu-west-1:111122223333:lake-dev-alerts"


def test_names_come_from_lake_toml(tmp_path: Path) -> None:
    program = tmp_path / "infra" / "pulumi"
    program.mkdir(parents=True)
    (tmp_path / "lake.toml").write_text(
        '[catalog]\ndatabase = "other_db"\n'
        "[workgroups.primary]\nbytes_scanned_cutoff = 1_000\n"
        '[workgroups.adhoc]\ndescription = "extra"\n'
    )
    s = _load(program)
    assert s.database == "other_db"
    assert s.workgroups["primary"].bytes_scanned_cutoff == 1_000
    assert list(s.workgroups) == ["primary", "analytics", "ml_data", "adhoc"]


def test_stack_config_overrides_lake_toml() -> None:
    s = _load(
        database="dev_lake_db",
        workgroups={"analytics": {"bytesScannedCutoff": 5}},
        bucketNames={"raw": "my-raw-bucket"},
        namePrefix="Team-Lake",
        emr={"enabled": True, "coreMax": 4},
    )
    assert s.database == "dev_lake_db"
    assert s.workgroups["analytics"].bytes_scanned_cutoff == 5
    assert s.bucket_names["raw"] == "my-raw-bucket"
    assert s.bucket_names["curated"] == "team-lake-curated-111122223333"
    assert s.emr.enabled and s.emr.core_max == 4


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"bucketNames": {"attic": "x-bucket"}}, "unknown zones"),
        ({"bucketNames": {"raw": "Upper_Case"}}, "not a valid S3 name"),
        ({"glueJobs": [{"name": "big", "maxWorkers": 40}]}, "2..10"),
        ({"emr": {"enabled": True, "coreNodes": 3}}, "unknown keys"),
        ({"reporting": {"enabled": True}}, "principalArn"),
        ({"replication": {"region": "us-west-2", "zones": ["logs"]}}, "cannot replicate"),
        ({"mlMode": "laptop"}, "mlMode"),
        ({"workgroups": {"primary": {"bytesScannedCutoff": -1}}}, "positive integer"),
    ],
)
def test_bad_config_is_refused_with_a_reason(config: dict[str, Any], message: str) -> None:
    with pytest.raises(PlatformConfigError, match=message):
        _load(**config)


def _example_stack_config() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load((PROGRAM / "Pulumi.dev.yaml").read_text())
    return document["config"]


def test_example_stack_config_is_valid() -> None:
    config = {
        key.split(":", 1)[1]: value
        for key, value in _example_stack_config().items()
        if key.startswith("lakelib-platform:")
    }
    s = _load(**config)
    assert s.name_prefix == "lake-dev"
    assert [job.name for job in s.glue_jobs] == ["sales_clean", "curate"]
    assert s.replication is not None and s.replication.region == "us-west-2"


def test_example_stack_deploys_under_mocks_and_passes_the_checks(tmp_path: Path) -> None:
    from lake_platform.policies import check_all
    from pulumi_harness import lambda_bundle, run_program

    config = _example_stack_config()
    # The Lambda bundle the example names is a build output (build_artifacts.py).
    ingest = config["lakelib-platform:ingest"]
    assert ingest["dependenciesDir"] == "../../build/lambda-deps"
    ingest["dependenciesDir"] = str(lambda_bundle(tmp_path / "lambda-deps"))
    deployed = run_program(config)
    assert deployed.outputs["raw_bucket"].startswith("lake-dev-raw-")
    assert [str(v) for v in check_all(deployed.records)] == []
