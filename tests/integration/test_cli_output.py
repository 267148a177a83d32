"""``lake`` output as cron, papermill and CI meet it: piped, parsed, versioned, helped.

Every command runs as a real subprocess with stdout a pipe (never a terminal), as in a log.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lakelib.tables import write_table


def lake(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # No COLUMNS: the width must come from lakelib, not from the caller's shell.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_") and k != "COLUMNS"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lakelib", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with a lake.toml whose lake home has a long path (> 80 columns)."""
    root = tmp_path / ("a_project_folder_with_a_rather_long_name_" + "x" * 40)
    root.mkdir()
    (root / "lake.toml").write_text('[profiles.local]\nhome = "the_lake_home_folder"\n')
    return root


def a_table(project: Path) -> None:
    from lakelib.config import load_settings

    settings = load_settings(cwd=project, env={})
    frame = pd.DataFrame({"customer_id": ["C1", "C2"], "segment": ["gold", "silver"]})
    write_table(frame, "customer_segments_for_marketing", settings=settings)


def test_piped_status_is_not_cut_to_80_columns_and_names_its_lake_toml(project: Path) -> None:
    result = lake("status", cwd=project)
    assert result.returncode == 0, result.stderr
    raw = str(project / "the_lake_home_folder" / "raw")
    assert len(raw) > 80
    raw_line = next(line for line in result.stdout.splitlines() if " raw " in line)
    assert raw in raw_line and "…" not in result.stdout
    assert result.stdout.splitlines()[0] == f"config: {project / 'lake.toml'}"


def test_status_outside_a_project_says_no_lake_toml(tmp_path: Path) -> None:
    result = lake("status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"config: no lake.toml found from {tmp_path} upwards: built-in defaults (run from "
        "the project folder, or set LAKE_CONFIG)"
    )


def test_status_as_json(project: Path) -> None:
    a_table(project)
    result = lake("status", "--format", "json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"] == str(project / "lake.toml")
    assert (data["profile"], data["database"]) == ("local", "data_lake_db")
    curated = next(z for z in data["zones"] if z["zone"] == "curated")
    assert curated["files"] == 1 and curated["bytes"] > 0
    assert data["catalog_problems"] == [] and data["pipeline_runs"] == []
    bad = lake("status", "--format", "csv", cwd=project)
    assert bad.returncode == 2 and "use one of: table, json" in bad.stderr


def test_catalog_tables_as_json_csv_and_an_untruncated_table(project: Path) -> None:
    a_table(project)
    as_json = lake("catalog", "tables", "--format", "json", cwd=project)
    assert as_json.returncode == 0, as_json.stderr
    [row] = json.loads(as_json.stdout)
    assert row["table"] == "customer_segments_for_marketing"
    assert (row["zone"], row["columns"], row["partitions"]) == ("curated", 2, 0)
    as_csv = lake("catalog", "tables", "--format", "csv", cwd=project)
    [csv_row] = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert csv_row["table"] == "customer_segments_for_marketing" and csv_row["columns"] == "2"
    as_table = lake("catalog", "tables", cwd=project)
    location = str(project / "the_lake_home_folder" / "curated" / "customer_segments_for_marketing")
    line = next(x for x in as_table.stdout.splitlines() if "customer_segments_for_marketing" in x)
    assert location in line


def test_lists_as_json_models_endpoints_history_bookmarks(project: Path) -> None:
    a_table(project)
    models = lake("models", "--format", "json", cwd=project)
    assert models.returncode == 0, models.stderr
    assert json.loads(models.stdout) == []
    endpoints = lake("endpoints", "--format", "csv", cwd=project)
    assert endpoints.stdout.splitlines() == ["name,target,model,version,url,pid,running"]

    ran = lake("query", "SELECT count(*) AS n FROM customer_segments_for_marketing", cwd=project)
    assert ran.returncode == 0, ran.stderr
    history = lake("query", "--history", "--format", "json", cwd=project)
    assert history.returncode == 0, history.stderr
    [record] = json.loads(history.stdout)
    assert record["sql"] == "SELECT count(*) AS n FROM customer_segments_for_marketing"
    assert (record["state"], record["rows"]) == ("SUCCEEDED", 1)

    bookmarks = lake("etl", "--bookmarks", "--format", "json", cwd=project)
    assert bookmarks.returncode == 0, bookmarks.stderr
    data = json.loads(bookmarks.stdout)
    assert data["sales_clean"]["files"] == 0 and data["last_runs"] == {
        "sales_clean": None,
        "curate": None,
    }
    as_csv = lake("etl", "--bookmarks", "--format", "csv", cwd=project)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["job"] for r in rows] == ["sales_clean", "curate"] and rows[0]["files"] == "0"


def test_version_and_help_text(tmp_path: Path) -> None:
    from importlib.metadata import version

    helped = lake("query", "--help", cwd=tmp_path)
    assert helped.returncode == 0
    text = " ".join(helped.stdout.split())
    assert "Athena workgroup (lake.toml [workgroups])." in text  # brackets kept
    assert "<bool>" not in helped.stdout
    result = lake("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == f"lake (lakelib) {version('lakelib')}\n"
    top = lake("--help", cwd=tmp_path).stdout
    assert "--aws-profile NAME" in top and "--version" in top and "<bool>" not in top
    # The command list is not cut to 80 columns in a pipe ("tables,...").
    assert "Update the catalog from what is in a zone: tables, schemas, partitions." in top


def test_aws_profile_picks_the_credentials_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aws_config"
    config.write_text("[profile lab]\nregion = eu-west-3\n")
    unknown = lake(
        "--aws-profile", "nope", "status", cwd=tmp_path, env={"AWS_CONFIG_FILE": str(config)}
    )
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "lake: error: AWS profile 'nope' not found in the AWS config and credentials files "
        "(profiles there: lab)\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    from lakelib.aws import client, use_profile

    try:
        use_profile("lab")
        assert os.environ["AWS_PROFILE"] == "lab"
        assert client("s3").meta.region_name == "eu-west-3"  # the profile's region
    finally:
        use_profile(None)
    assert "AWS_PROFILE" not in os.environ  # nothing leaks into later tests or processes


def test_ingest_names_its_input_format_apart_from_output_formats(tmp_path: Path) -> None:
    result = lake("ingest", "sales", "--from", str(tmp_path), "--input-format", "xml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value for --input-format: use one of: auto, jsonl, json, csv, parquet" in (
        result.stderr
    )
