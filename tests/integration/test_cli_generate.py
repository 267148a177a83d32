"""``lake generate`` as a user runs it: files, bytes, exit codes and stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plugins.cli import LakeCli

from lakelib.cli import main

SMALL = ["--days", "3", "--rows-per-day", "200"]


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_generate_sales_twice_gives_the_same_bytes(lake: LakeCli, tmp_path: Path) -> None:
    # Defaults come from lake.toml's [generate] table; --days overrides it.
    (tmp_path / "lake.toml").write_text(
        '[generate]\nseed = 5\nstart = "2026-03-01"\ndays = 60\nrows_per_day = 150\n'
    )
    first = lake("generate", "sales", "--out", "a", "--days", "3", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert "sales" in first.stdout and "manifest" in first.stdout
    second = lake("generate", "sales", "--out", "b", "--days", "3", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    written = files(tmp_path / "a")
    assert sorted(written) == [
        "manifest.json",
        "sales/sales_20260301.jsonl",
        "sales/sales_20260302.jsonl",
        "sales/sales_20260303.jsonl",
    ]
    assert all(written.values())
    assert written == files(tmp_path / "b")
    entry = json.loads(written["manifest.json"])["sales"]
    assert (entry["seed"], entry["days"], entry["rows_per_day"]) == (5, 3, 150)


@pytest.mark.parametrize("source", ["../x", "nosuch"])
def test_bad_source_is_one_line_on_stderr_and_exit_1(
    lake: LakeCli, tmp_path: Path, source: str
) -> None:
    result = lake("generate", source, "--out", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert source in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_source_without_out_lists_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "nosuch"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "lake: error: unknown source 'nosuch' (known: sales, customers, products, all)"
    ]


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("bad_dates=0.1", "KIND one of"),
        ("bad_date", "KIND=RATE"),
        ("bad_date=lots", "a number"),
        ("bad_date=1.5", "between 0 and 1"),
    ],
)
def test_bad_rate_is_a_usage_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    rate: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["generate", "sales", "--out", "out", *SMALL, "--rate", rate])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_generate_all_clean_with_a_rate_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["generate", "all", "--out", "out", *SMALL, "--seed", "3", "--start", "2026-02-01"]
    code = main([*args, "--clean", "--rate", "malformed_json=0.2"])
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert set(manifest) == {"sales", "customers", "products"}
    sales = manifest["sales"]
    assert sales["start"] == "2026-02-01" and sales["seed"] == 3
    assert sales["rates"]["malformed_json"] == 0.2
    dirt = sales["dirt"]
    assert dirt.pop("malformed_json") > 0 and set(dirt.values()) == {0}
    assert (tmp_path / "out/customers/customers.csv").is_file()
    assert (tmp_path / "out/products/products.csv").is_file()
    out = capsys.readouterr().out
    assert "malformed_json" in out and "customers" in out and "products" in out
