"""lake.toml is checked once, at load: unknown keys and wrong types are one-line errors."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from lakelib.config import load_settings
from lakelib.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def settings_from(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "lake.toml").write_text(text)
    return load_settings(cwd=tmp_path, env={})


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as error:
        settings_from(tmp_path, text)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'lake.toml'}: ")
    return message[len(f"{tmp_path / 'lake.toml'}: ") :]


def test_the_repositorys_lake_toml_loads_typed() -> None:
    settings = load_settings(cwd=REPO, env={})
    config = settings.config
    assert config.etl.table == "sales_clean"
    assert config.etl.amount_bands == (10.0, 50.0, 100.0, 500.0)
    assert config.generate.start == "2026-01-01"
    assert config.sources["sales"].ranges["amount"] == {"min": 0.01, "max": 100_000}
    assert [rule.name for rule in config.alerts.rules] == [
        "failed_stage",
        "quarantine_rate",
        "revenue_drop",
    ]
    assert config.pipeline.ingest["customers"].from_ == "{home}/samples/customers"
    assert config.workgroups["ml_data"].bytes_scanned_cutoff == 50_000_000_000


def test_a_misspelt_key_names_the_key_and_the_allowed_ones(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[etl]\ntabel = "sales_v2"\n')
    assert message == (
        "unknown key 'etl.tabel' (allowed in [etl]: amount, amount_bands, emr, event_time, "
        "glue_jobs, key, lock_timeout_minutes, source, table)"
    )


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[etll]\nsource = 'sales'\n")
    assert message.startswith("unknown section 'etll' (allowed: alerts, catalog, etl, generate,")


def test_keys_deep_inside_user_named_tables_are_checked(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[sources.sales]\nrequired = ['id']\nfeilds = { id = 'string' }\n")
    assert re.match(
        r"unknown key 'sources\.sales\.feilds' \(allowed in \[sources\.sales\]: ", message
    )
    message = refusal(tmp_path, "[[alerts.rules]]\nname = 'x'\nmetric = 'm'\nabove = 'lots'\n")
    assert message == "alerts.rules[0].above must be a number, got 'lots'"
    message = refusal(tmp_path, "[pipeline.ingest.sales]\nfrm = 'x'\n")
    assert (
        message
        == "unknown key 'pipeline.ingest.sales.frm' (allowed in [pipeline.ingest.sales]: from)"
    )


def test_wrong_types_say_what_is_expected(tmp_path: Path) -> None:
    assert refusal(tmp_path, "[etl]\nlock_timeout_minutes = 'soon'\n") == (
        "etl.lock_timeout_minutes must be a positive number, got 'soon'"
    )
    assert refusal(tmp_path, "[etl]\nlock_timeout_minutes = 0\n") == (
        "etl.lock_timeout_minutes must be a positive number, got 0"
    )
    assert refusal(tmp_path, "[etl]\namount_bands = [10, 'fifty']\n") == (
        "etl.amount_bands[1] must be a number, got 'fifty'"
    )
    assert refusal(tmp_path, "[pipeline]\ntrain_weekday = 'Monday'\n") == (
        "pipeline.train_weekday must be one of Mon, Tue, Wed, Thu, Fri, Sat, Sun, got 'Monday'"
    )
    assert refusal(tmp_path, "etl = 3\n") == "[etl] must be a table, got 3"
    assert refusal(tmp_path, "[query]\nmax_result_rows = true\n") == (
        "query.max_result_rows must be a positive integer, got True"
    )


def test_toml_values_keep_their_types(tmp_path: Path) -> None:
    config = settings_from(
        tmp_path, "[generate]\nstart = 2026-02-01\ndays = 3\n[ml.hyperparameters]\nmax-iter = 200\n"
    ).config
    assert config.generate.start == dt.date(2026, 2, 1)
    assert config.ml.hyperparameters == {"max-iter": 200}
    assert config.etl.lock_timeout_minutes is None  # left out: the ETL's own default applies
