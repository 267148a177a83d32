import json
from pathlib import Path

import pytest

from lakelib.config import Zone, get_settings, load_settings
from lakelib.errors import ConfigError


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lake.toml"
    path.write_text(text)
    return path


def test_defaults_without_config(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, env={})
    assert settings.profile == "local"
    assert settings.config_file is None
    assert settings.home == tmp_path / ".lake"
    assert settings.database == "data_lake_db"
    assert list(settings.workgroups) == ["primary", "analytics", "ml_data"]
    assert settings.zone_uri(Zone.RAW) == str(tmp_path / ".lake" / "raw")
    assert settings.zone_uri("query-results") == str(tmp_path / ".lake" / "query-results")


def test_config_found_from_a_subfolder_resolves_paths_against_it(tmp_path: Path) -> None:
    write_config(tmp_path, '[profiles.local]\nhome = "data/lake"\n[catalog]\ndatabase = "db2"\n')
    notebooks = tmp_path / "notebooks" / "deep"
    notebooks.mkdir(parents=True)
    from_root = load_settings(cwd=tmp_path, env={})
    from_notebooks = load_settings(cwd=notebooks, env={})
    assert from_root.home == from_notebooks.home == tmp_path / "data" / "lake"
    assert from_notebooks.project_root == tmp_path
    assert from_notebooks.database == "db2"


def test_precedence_argument_over_env_over_file(tmp_path: Path) -> None:
    write_config(tmp_path, '[workspace]\ndefault_profile = "local"\n[profiles.local]\nhome = "f"\n')
    env = {"LAKE_HOME": str(tmp_path / "from_env"), "LAKE_DATABASE": "env_db"}
    assert load_settings(cwd=tmp_path, env={}).home == tmp_path / "f"
    assert load_settings(cwd=tmp_path, env=env).home == tmp_path / "from_env"
    assert load_settings(home=tmp_path / "arg", cwd=tmp_path, env=env).home == tmp_path / "arg"
    assert load_settings(cwd=tmp_path, env=env).database == "env_db"


def test_workgroup_cutoffs_from_file(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "[workgroups.analytics]\nbytes_scanned_cutoff = 1_000\n[workgroups.adhoc]\n",
    )
    settings = load_settings(cwd=tmp_path, env={})
    assert settings.workgroup("analytics").bytes_scanned_cutoff == 1000
    assert settings.workgroup("primary").bytes_scanned_cutoff is None
    assert "adhoc" in settings.workgroups
    with pytest.raises(ConfigError, match="unknown workgroup 'nope'"):
        settings.workgroup("nope")


def test_bad_cutoff_is_a_config_error(tmp_path: Path) -> None:
    write_config(tmp_path, '[workgroups.primary]\nbytes_scanned_cutoff = "lots"\n')
    with pytest.raises(ConfigError, match="positive integer"):
        load_settings(cwd=tmp_path, env={})


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[profiles\nhome = \n")
    with pytest.raises(ConfigError, match=str(path)):
        load_settings(cwd=tmp_path, env={})


def test_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'gcp'"):
        load_settings(cwd=tmp_path, env={"LAKE_PROFILE": "gcp"})


def test_aws_profile_reads_stack_outputs_and_env_overrides(tmp_path: Path) -> None:
    outputs = {
        "raw_bucket": "acme-raw",
        "processed_bucket": "acme-processed",
        "curated_bucket": "acme-curated",
        "scripts_bucket": "acme-scripts",
        "query_results_bucket": "acme-results",
        "database": "data_lake_db",
        "region": "eu-west-1",
    }
    (tmp_path / "out.json").write_text(json.dumps(outputs))
    write_config(tmp_path, '[profiles.aws]\nstack_outputs = "out.json"\n')
    settings = load_settings(profile="aws", cwd=tmp_path, env={})
    assert settings.zone_uri(Zone.RAW) == "s3://acme-raw/"
    assert settings.zone_uri(Zone.QUARANTINE) == "s3://acme-processed/quarantine/"
    assert settings.zone_uri(Zone.MODELS) == "s3://acme-scripts/models/"
    assert settings.zone_uri(Zone.QUERY_RESULTS) == "s3://acme-results/"
    assert settings.region == "eu-west-1"
    # The Lambda's own variable wins over the file.
    lam = load_settings(profile="aws", cwd=tmp_path, env={"S3_RAW_BUCKET": "lambda-raw"})
    assert lam.zone_uri(Zone.RAW) == "s3://lambda-raw/"


def test_aws_profile_without_names_fails_only_when_a_zone_is_used(tmp_path: Path) -> None:
    settings = load_settings(profile="aws", cwd=tmp_path, env={})
    with pytest.raises(ConfigError, match="LAKE_RAW_BUCKET or S3_RAW_BUCKET"):
        settings.zone_uri(Zone.RAW)
    with pytest.raises(ConfigError, match="stack outputs file not found"):
        load_settings(profile="aws", cwd=tmp_path, env={"LAKE_STACK_OUTPUTS": "missing.json"})


def test_get_settings_reads_env_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lakelib.config._settings as module

    assert module._current is None  # nothing was loaded at import time
    monkeypatch.setenv("LAKE_HOME", str(tmp_path / "h"))
    assert get_settings().home == tmp_path / "h"


# -- the config Pulumi ships: LAKE_CONFIG as a path or an s3:// URI ------------------------

SHIPPED = """
[sources.sales]
required = ["id"]
fields = { id = "string" }

[[alerts.rules]]
name = "failed_stage"
metric = "failed_stages"
above = 0

[monitoring]
metrics_namespace = "acme-lake"
"""


@pytest.mark.aws
def test_lake_config_s3_uri_is_read_before_walking_up(tmp_path: Path, aws: str) -> None:
    from lakelib.aws import client
    from lakelib.config import aws_config_uri

    client("s3").create_bucket(Bucket="acme-scripts")
    client("s3").put_object(Bucket="acme-scripts", Key="config/lake.toml", Body=SHIPPED.encode())
    # A lake.toml nearer the job (the repository's, say) must not win over the shipped one.
    write_config(tmp_path, '[catalog]\ndatabase = "walked_up"\n')
    uri = "s3://acme-scripts/config/lake.toml"
    env = {"LAKE_CONFIG": uri, "LAKE_SCRIPTS_BUCKET": "acme-scripts"}
    settings = load_settings(profile="aws", cwd=tmp_path, env=env, require_config=True)
    assert settings.section("sources")["sales"]["required"] == ["id"]
    assert settings.section("alerts")["rules"][0]["name"] == "failed_stage"
    assert settings.database == "data_lake_db"  # not the walked-up file's
    assert settings.config_source == uri and settings.config_file is None
    assert aws_config_uri(settings) == uri


@pytest.mark.aws
def test_an_unreadable_lake_config_is_one_line_naming_it(tmp_path: Path, aws: str) -> None:
    from lakelib.aws import client

    client("s3").create_bucket(Bucket="acme-scripts")
    env = {"LAKE_CONFIG": "s3://acme-scripts/config/lake.toml"}
    with pytest.raises(ConfigError) as error:
        load_settings(profile="aws", cwd=tmp_path, env=env)
    message = str(error.value)
    assert message.startswith(
        "cannot read LAKE_CONFIG=s3://acme-scripts/config/lake.toml: NoSuchKey"
    )
    assert "\n" not in message
    client("s3").put_object(Bucket="acme-scripts", Key="config/lake.toml", Body=b"[sources\n")
    with pytest.raises(ConfigError, match=r"s3://acme-scripts/config/lake\.toml"):
        load_settings(profile="aws", cwd=tmp_path, env=env)


def test_a_job_on_aws_without_a_config_refuses_instead_of_defaulting(tmp_path: Path) -> None:
    # No LAKE_CONFIG and no lake.toml up from the job's folder: contracts, alert rules and
    # model settings would silently be the defaults.
    with pytest.raises(ConfigError) as error:
        load_settings(profile="aws", cwd=tmp_path, env={}, require_config=True)
    assert "LAKE_CONFIG is not set" in str(error.value) and "\n" not in str(error.value)
    # Outside a job (a laptop on the aws profile, the local profile) defaults still apply.
    assert load_settings(profile="aws", cwd=tmp_path, env={}).config_source is None
    assert load_settings(cwd=tmp_path, env={}, require_config=True).profile == "local"
    # A path in LAKE_CONFIG is read like a walked-up file.
    path = write_config(tmp_path / "shipped", SHIPPED)
    settings = load_settings(
        profile="aws", cwd=tmp_path, env={"LAKE_CONFIG": str(path)}, require_config=True
    )
    assert settings.config_source == str(path) and "sales" in settings.section("sources")
