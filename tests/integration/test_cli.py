"""The ``lake`` command as a user runs it: a real subprocess, exit codes and stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugins.cli import LakeCli

from lakelib.storage import LocalStore


def test_help_lists_commands(lake: LakeCli, tmp_path: Path) -> None:
    result = lake("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "status" in result.stdout
    assert "--profile" in result.stdout
    sub = lake("status", "--help", cwd=tmp_path)
    assert sub.returncode == 0 and "zones" in sub.stdout


def test_status_counts_files_per_zone(lake: LakeCli, tmp_path: Path) -> None:
    (tmp_path / "lake.toml").write_text('[profiles.local]\nhome = "mylake"\n')
    store = LocalStore(tmp_path / "mylake" / "raw")
    store.write_bytes("sales/a.json.gz", b"x" * 2048)
    store.write_bytes("sales/b.json.gz", b"y" * 1024)
    sub = tmp_path / "notebooks"
    sub.mkdir()
    # Run from a subfolder: lake.toml is found by walking up.
    result = lake("status", cwd=sub)
    assert result.returncode == 0, result.stderr
    raw_line = next(line for line in result.stdout.splitlines() if " raw " in line)
    assert "2" in raw_line.split() and "3.0 KiB" in raw_line
    assert str(tmp_path / "mylake" / "raw") in raw_line
    assert "data_lake_db" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nosuch"], 2, "No such command"),
        (["--profile", "gcp", "status"], 2, "--profile"),
        (["--profile", "aws", "status"], 1, "lake: error: the aws profile has no location"),
    ],
)
def test_errors_are_one_line_without_traceback(
    lake: LakeCli, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = lake(*args, cwd=tmp_path)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if code == 1:
        assert len(result.stderr.strip().splitlines()) == 1


def test_bad_config_is_one_line(lake: LakeCli, tmp_path: Path) -> None:
    (tmp_path / "lake.toml").write_text("[profiles\n")
    result = lake("status", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("lake: error: ") and "lake.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_misspelt_config_key_is_one_line_naming_file_key_and_allowed(
    lake: LakeCli, tmp_path: Path
) -> None:
    (tmp_path / "lake.toml").write_text("[query]\nmax_rows = 10\n")
    result = lake("status", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"lake: error: {tmp_path / 'lake.toml'}: unknown key 'query.max_rows' "
        "(allowed in [query]: max_result_rows)\n"
    )


def test_debug_shows_the_traceback(lake: LakeCli, tmp_path: Path) -> None:
    result = lake("--debug", "--profile", "aws", "status", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr
