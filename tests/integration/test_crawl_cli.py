"""``lake crawl`` and ``lake catalog ...`` as a user runs them: a subprocess per command."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from plugins.cli import LakeCli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A small lake: raw sales in two days (amount number then string), one bad file."""
    root = tmp_path / "lake"
    for day, record in (
        ("05", {"id": 1, "amount": 10.5}),
        ("06", {"id": 2, "amount": "12.00", "channel": "web"}),
    ):
        folder = root / "raw" / "sales" / "year=2024" / "month=01" / f"day={day}"
        folder.mkdir(parents=True)
        (folder / f"sales_202401{day}_020000.json.gz").write_bytes(
            gzip.compress((json.dumps(record) + "\n").encode())
        )
    bad = (
        root
        / "raw"
        / "sales"
        / "year=2024"
        / "month=01"
        / "day=06"
        / "sales_20240106_030000.json.gz"
    )
    bad.write_bytes(b"not gzip")
    (root / "raw" / "sales" / "notes").mkdir()
    (root / "raw" / "sales" / "notes" / "readme.json").write_text('{"x": 1}\n')
    return root


def test_crawl_explains_and_reports_problems_one_line_each(
    lake: LakeCli, home: Path, tmp_path: Path
) -> None:
    result = lake("crawl", "raw", "--explain", home=home, cwd=tmp_path)
    # Problems are listed on stdout, and the crawl fails: a script or scheduler must notice.
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        "lake: error: crawl found 2 problem(s), listed above"
    ]
    out = result.stdout
    assert "column amount: double and string seen" in out
    assert "a value seen as text cannot be read as a number" in out
    row = next(line for line in out.splitlines() if "raw_sales" in line and "created" in line)
    assert " 1 " in row and "2" in row.split("│")[-3]  # version 1, 2 partitions
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 2
    assert problems[0].startswith("problem: raw/sales: folder 'notes' is not a key=value")
    assert "sales_20240106_030000.json.gz: not a valid gzip file" in problems[1]
    assert out.rstrip().endswith("1 table folder(s), 1 changed, 2 problem(s)")
    assert (home / "catalog.sqlite").is_file()

    again = lake("crawl", home=home, cwd=tmp_path)
    assert again.returncode == 1
    assert "unchanged" in again.stdout and "0 changed" in again.stdout

    shown = lake("catalog", "show", "raw_sales", "--history", home=home, cwd=tmp_path)
    assert shown.returncode == 0
    assert "amount" in shown.stdout and "partition key" in shown.stdout
    assert "2 partition(s)" in shown.stdout and "v1 " in shown.stdout
    listed = lake("catalog", "tables", home=home, cwd=tmp_path)
    assert "raw_sales" in listed.stdout and "json (gzip)" in listed.stdout
    missing = lake("catalog", "show", "nope", home=home, cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("lake: error: no table")


def test_crawl_json_output_is_only_json(lake: LakeCli, home: Path, tmp_path: Path) -> None:
    result = lake("crawl", "raw", "--format", "json", home=home, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "lake: error: crawl found 2 problem(s), listed in the report"
    report = json.loads(result.stdout)
    assert report["tables"][0]["table"] == "raw_sales"
    assert report["tables"][0]["partitions_added"] == [
        "year=2024/month=01/day=05",
        "year=2024/month=01/day=06",
    ]
    assert len(report["problems"]) == 2


def test_unknown_zone_is_a_usage_error(lake: LakeCli, home: Path, tmp_path: Path) -> None:
    result = lake("crawl", "scripts", home=home, cwd=tmp_path)
    assert result.returncode == 2 and "raw, processed, curated, quarantine" in result.stderr


def without_problems(home: Path) -> Path:
    """The ``home`` lake minus its bad file and its stray folder: a crawl finds no problem."""
    (home / "raw" / "sales" / "notes" / "readme.json").unlink()
    (home / "raw" / "sales" / "notes").rmdir()
    (home / "raw/sales/year=2024/month=01/day=06/sales_20240106_030000.json.gz").unlink()
    return home


def test_export_import_round_trip(lake: LakeCli, home: Path, tmp_path: Path) -> None:
    without_problems(home)
    assert lake("crawl", home=home, cwd=tmp_path).returncode == 0
    first = tmp_path / "backup" / "catalog.json"
    exported = lake("catalog", "export", str(first), home=home, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "exported 1 table(s), 2 partition(s) of data_lake_db" in exported.stdout

    fresh = tmp_path / "restored"
    imported = lake("catalog", "import", str(first), home=fresh, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    second = tmp_path / "again.json"
    assert lake("catalog", "export", str(second), home=fresh, cwd=tmp_path).returncode == 0
    assert second.read_bytes() == first.read_bytes()

    refused = lake("catalog", "import", str(first), home=fresh, cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "lake: error: catalog data_lake_db already has 1 table(s); import into an empty catalog "
        "or pass --replace"
    ]
    assert (
        lake("catalog", "import", str(first), "--replace", home=fresh, cwd=tmp_path).returncode == 0
    )


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("damage", "reason"),
    [(_garbage, "file is not a database"), (_truncated, "database disk image is malformed")],
    ids=["garbage", "truncated"],
)
def test_an_unreadable_catalog_is_reported_by_status_and_crawl(
    lake: LakeCli, home: Path, tmp_path: Path, damage: Any, reason: str
) -> None:
    without_problems(home)
    assert lake("crawl", home=home, cwd=tmp_path).returncode == 0
    assert not (home / "catalog.sqlite-wal").exists()  # everything is in the file itself
    sound = lake("status", home=home, cwd=tmp_path)
    assert sound.returncode == 0 and "catalog: checked, no problems" in sound.stdout
    damage(home / "catalog.sqlite")
    expected = (
        f"lake: error: catalog {home / 'catalog.sqlite'} is unreadable: {reason}; move the file "
        "aside, then `lake catalog import` a backup or `lake crawl` to rebuild it"
    )

    status = lake("status", home=home, cwd=tmp_path)
    assert status.returncode == 1
    assert status.stderr.strip().splitlines() == [expected]
    assert "catalog: UNREADABLE" in status.stdout
    assert "raw" in status.stdout  # the rest of the status is still shown

    crawled = lake("crawl", home=home, cwd=tmp_path)
    assert crawled.returncode == 1
    assert crawled.stderr.strip().splitlines() == [expected]


def test_damaged_catalog_rows_are_listed_one_per_line(
    lake: LakeCli, home: Path, tmp_path: Path
) -> None:
    without_problems(home)
    assert lake("crawl", home=home, cwd=tmp_path).returncode == 0
    with sqlite3.connect(home / "catalog.sqlite") as conn:
        conn.execute("UPDATE tables SET columns = '[{\"name\": \"id\"' WHERE name = 'raw_sales'")
        conn.execute("UPDATE partitions SET \"values\" = 'year=2024' WHERE spec LIKE '%day=05'")
    conn.close()

    status = lake("status", home=home, cwd=tmp_path)
    assert status.returncode == 1
    assert status.stderr.strip().splitlines() == [
        f"lake: error: catalog {home / 'catalog.sqlite'} has 2 problem(s), listed above; "
        "move the file aside, then `lake catalog import` a backup or `lake crawl` to rebuild it"
    ]
    lines = status.stdout.splitlines()
    at = lines.index(f"catalog: 2 problem(s) in {home / 'catalog.sqlite'}")
    assert lines[at + 1].startswith(
        "  problem: table data_lake_db.raw_sales: columns is not valid JSON"
    )
    assert lines[at + 2].startswith(
        "  problem: partition data_lake_db.raw_sales year=2024/month=01/day=05: "
        "values is not valid JSON"
    )

    crawled = lake("crawl", home=home, cwd=tmp_path)
    assert crawled.returncode == 1, crawled.stderr
    assert crawled.stderr.strip().splitlines() == [
        "lake: error: crawl found 3 problem(s), listed above"
    ]
    problems = [line for line in crawled.stdout.splitlines() if line.startswith("problem: ")]
    assert [p.split(":")[1].strip() for p in problems] == ["catalog", "catalog", "raw/sales"]
    assert "catalog not updated" in problems[2] and "is damaged: table raw_sales" in problems[2]

    # The advice works: with the damaged file moved aside, a crawl rebuilds the catalog.
    (home / "catalog.sqlite").rename(tmp_path / "catalog.sqlite.damaged")
    assert lake("crawl", home=home, cwd=tmp_path).returncode == 0
    assert lake("status", home=home, cwd=tmp_path).returncode == 0
