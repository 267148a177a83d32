"""``lake ingest`` as a user runs it: summaries, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plugins.cli import LakeCli

from lakelib.samples import read_manifest


def test_ingest_prints_a_summary_and_is_idempotent(
    lake: LakeCli, samples: Path, tmp_path: Path
) -> None:
    manifest = read_manifest(samples)["sales"]
    result = lake(
        "ingest", "sales", "--from", str(samples / "sales"), "--date", "2026-01-05", home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    numbers = f"{manifest['lines']:,}"
    assert numbers in result.stdout and f"{manifest['rejected']:,}" in result.stdout
    assert "malformed_json" in result.stdout
    assert list(
        (tmp_path / "raw" / "sales" / "year=2026" / "month=01" / "day=05").glob(
            "sales_20260105_*.json.gz"
        )
    )

    again = lake("ingest", "sales", "--from", str(samples / "sales"), home=tmp_path)
    assert again.returncode == 0
    assert "already landed" in again.stdout and "--force" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "../x", "--from", "{samples}/sales"], "invalid source name '../x'"),
        (["ingest", "a/b", "--from", "{samples}/sales"], "invalid source name 'a/b'"),
        (["ingest", "sales", "--from", "{tmp}/missing.jsonl"], "no such file or folder"),
        (["ingest", "sales", "--from", "{tmp}/garbage.bin"], "cannot tell the format"),
        (["ingest", "sales", "--from", "{tmp}/garbage.jsonl"], "looks binary"),
        (["ingest", "sales", "--from", "{tmp}/empty.jsonl"], "holds no records"),
        (["ingest", "customers", "--from", "{tmp}/utf16.csv"], "UTF-16 text; save it as UTF-8"),
        (
            [
                "ingest",
                "orders",
                "--from",
                "sqlite:///{tmp}/nodir/x.db",
                "--table",
                "t",
                "--no-contract",
            ],
            "unable to open database",
        ),
        (
            ["ingest", "sales", "--from", "http://127.0.0.1:9/x", "--retries", "1"],
            "failed after 2 attempts",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    lake: LakeCli, samples: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "garbage.jsonl").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "utf16.csv").write_bytes("customer_id,region\r\nC1,north\r\n".encode("utf-16"))
    filled = [a.format(samples=samples, tmp=tmp_path) for a in args]
    result = lake(*filled, home=tmp_path / "lake")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(lake: LakeCli, samples: Path, tmp_path: Path) -> None:
    assert lake("ingest", "sales", home=tmp_path).returncode == 2  # --from missing
    bad_format = lake("ingest", "sales", "--from", str(samples), "--format", "xml", home=tmp_path)
    # --format is the old name of --input-format; the message names the option.
    assert bad_format.returncode == 2 and "--input-format" in bad_format.stderr


def test_an_undeclared_source_is_refused_and_nothing_lands(
    lake: LakeCli, samples: Path, tmp_path: Path
) -> None:
    home = tmp_path / "lake"
    refused = lake("ingest", "nosource", "--from", str(samples / "sales"), home=home)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert lines == [
        "lake: error: unknown source 'nosource': lake.toml declares customers, products, "
        "sales; add [sources.nosource] or land it unvalidated with --no-contract"
    ]
    assert not (home / "raw").exists() and not (home / "runs").exists()

    # The explicit opt-in lands every record as it is and says so, here and in the run record.
    landed = lake(
        "ingest", "nosource", "--from", str(samples / "sales"), "--no-contract", home=home
    )
    assert landed.returncode == 0, landed.stderr
    assert "not validated" in landed.stdout
    manifest = read_manifest(samples)["sales"]
    (record_file,) = (home / "runs" / "ingest" / "nosource" / "runs").glob("*.json")
    record = json.loads(record_file.read_text())
    assert record["validated"] is False
    # Without a contract only unparseable lines are quarantined.
    assert record["quarantined"] == manifest["dirt"]["malformed_json"]
    assert record["landed"] == manifest["lines"] - manifest["dirt"]["malformed_json"]


def test_status_shows_which_ingests_ran_without_a_contract(
    lake: LakeCli, samples: Path, tmp_path: Path
) -> None:
    home = tmp_path / "lake"
    one_file = str(samples / "customers")
    assert lake("ingest", "customers", "--from", one_file, home=home).returncode == 0
    assert (
        lake("ingest", "raw_dump", "--from", one_file, "--no-contract", home=home).returncode == 0
    )
    status = lake("status", home=home)
    assert status.returncode == 0, status.stderr
    cells = [[c.strip() for c in line.split("│")] for line in status.stdout.splitlines()]
    contract = {row[2]: row[-2] for row in cells if len(row) == 8 and "Z-" in row[1]}
    assert contract == {"raw_dump": "none (--no-contract)", "customers": "applied"}
