"""The local engine reaches only the lake's own folders, and results of any size stream to CSV.

A real lake (SQLite catalog, DuckDB) in a temp folder, with a secret file beside it that no
query may read; the CLI runs as a user runs it, in subprocesses.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from plugins.cli import LakeCli

from lakelib.catalog import Column, Table, crawl, open_catalog
from lakelib.config import Settings, load_settings
from lakelib.errors import QueryError
from lakelib.query import _local as local
from lakelib.query import query_history, run_query
from lakelib.query._local import LocalPlan, LocalQueries
from lakelib.query._results import render_csv

SECRET = "s3cr3t-not-in-the-lake"
BIG_ROWS = 5_000


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scores`` (curated CSV), ``events`` (processed Parquet, 5,000 rows of varied types)
    and, outside the lake, ``secret.txt``; ``[query] max_result_rows = 1000``."""
    root = tmp_path_factory.mktemp("sandboxlake")
    (root / "lake.toml").write_text(
        '[profiles.local]\nhome = "lake"\n[query]\nmax_result_rows = 1000\n'
    )
    (root / "secret.txt").write_text(SECRET + "\n")
    scores = root / "lake" / "curated" / "scores"
    scores.mkdir(parents=True)
    (scores / "a.csv").write_text("name,score\nann,1\nbob,2\ncy,3\n")
    events = root / "lake" / "processed" / "events"
    events.mkdir(parents=True)
    n = BIG_ROWS
    pq.write_table(
        pa.table(
            {
                "id": pa.array(range(n), pa.int64()),
                "amount": pa.array([None if i % 11 == 0 else i / 8 for i in range(n)]),
                "label": pa.array([f'say "hi", {i}' if i % 3 else "" for i in range(n)]),
                "ok": pa.array([i % 2 == 0 for i in range(n)]),
                "at": pa.array(
                    [dt.datetime(2026, 1, 1) + dt.timedelta(seconds=i) for i in range(n)],
                    pa.timestamp("us"),
                ),
                "price": pa.array([Decimal(i) / 100 for i in range(n)], pa.decimal128(12, 2)),
                "tags": pa.array([["a", str(i)] if i % 5 else None for i in range(n)]),
            }
        ),
        events / "part-0.parquet",
    )
    settings = _settings(root)
    crawl("curated", settings=settings)
    crawl("processed", settings=settings)
    return root


def _settings(root: Path) -> Settings:
    return load_settings(home=root / "lake", cwd=root, env={"LAKE_CONFIG": str(root / "lake.toml")})


@pytest.fixture
def settings(lake_dir: Path) -> Settings:
    return _settings(lake_dir)


# (query, the function or path the one-line error names); {secret} is the file outside the lake.
HOSTILE = [
    ("SELECT * FROM read_text('{secret}')", "function read_text"),
    ("SELECT * FROM read_text('/etc/passwd')", "function read_text"),
    ("SELECT * FROM read_csv('{secret}')", "function read_csv"),
    ("SELECT * FROM read_csv_auto('{secret}')", "function read_csv_auto"),
    ("SELECT content FROM read_blob('{secret}')", "function read_blob"),
    ("SELECT * FROM read_json('{secret}')", "function read_json"),
    ("SELECT * FROM read_parquet('{secret}')", "function read_parquet"),
    ("SELECT * FROM glob('/etc/*')", "function glob"),
    ("SELECT name, (SELECT max(content) FROM read_text('{secret}')) FROM scores", "read_text"),
    ("WITH s AS (SELECT * FROM read_text('{secret}')) SELECT * FROM s", "function read_text"),
    ("SELECT * FROM query('SELECT * FROM read_text(''{secret}'')')", "function query"),
    ("SELECT * FROM scores, LATERAL read_text('{secret}')", "function read_text"),
    ("SELECT * FROM \"read_text\"('{secret}')", "function read_text"),
    ("SELECT * FROM '{secret}'", "is not a table"),
    ("SELECT * FROM 'x.csv'", "is not a table"),
    ("SELECT * FROM range(3)", "function range"),
    ("SELECT * FROM read_csv('https://127.0.0.1:9/x.csv')", "function read_csv"),
]


CLI_SKIPS = {
    "SELECT * FROM read_text('{secret}')",
    "SELECT * FROM read_csv_auto('{secret}')",
    "SELECT * FROM scores, LATERAL read_text('{secret}')",
    "SELECT * FROM \"read_text\"('{secret}')",
    "SELECT * FROM 'x.csv'",
    "SELECT * FROM range(3)",
}


def _hostile(sql: str, lake_dir: Path) -> str:
    return sql.replace("{secret}", str(lake_dir / "secret.txt"))


@pytest.mark.parametrize(("sql", "named"), HOSTILE, ids=[q for q, _ in HOSTILE])
def test_api_refuses_reading_outside_the_lake(
    sql: str, named: str, settings: Settings, lake_dir: Path
) -> None:
    with pytest.raises(QueryError, match="not supported by the local engine") as caught:
        run_query(_hostile(sql, lake_dir), settings=settings)
    message = str(caught.value)
    assert named in message and "\n" not in message and SECRET not in message
    record = query_history(1, settings=settings)[0]
    assert record.state == "FAILED" and not record.output_location


def test_cli_refuses_reading_outside_the_lake_in_one_line(lake: LakeCli, lake_dir: Path) -> None:
    def run(case: tuple[str, str]) -> tuple[str, str, subprocess.CompletedProcess[str]]:
        sql, named = case
        return sql, named, lake("query", _hostile(sql, lake_dir), "--format", "csv", cwd=lake_dir)

    # One of each kind the issue names (the API test above covers every case); bounded:
    # two CLI processes at a time.
    kinds = [case for case in HOSTILE if case[0] not in CLI_SKIPS]
    assert len(kinds) == 11
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, kinds))
    for sql, named, done in results:
        assert done.returncode == 1, (sql, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("lake: error: "), (
            sql,
            done.stderr,
        )
        assert named in done.stderr, (sql, done.stderr)
        assert SECRET not in done.stdout + done.stderr and done.stdout == ""


def test_the_connection_itself_is_fenced(settings: Settings, lake_dir: Path) -> None:
    """What slips past the text check still meets DuckDB's sandbox (the second layer)."""
    engine = LocalQueries(settings)
    secret = lake_dir / "secret.txt"
    inside = lake_dir / "lake" / "curated" / "scores" / "a.csv"

    def raw(sql: str) -> pa.Table:
        return engine.execute(LocalPlan(sql, sql, {}, [], 0.0))

    # The fence lets the lake's own files through ...
    assert raw(f"SELECT count(*) AS n FROM read_csv('{inside}')").to_pylist() == [{"n": 3}]
    # ... and nothing else: files, parent-folder tricks, URLs, extensions, other databases.
    for sql in (
        f"SELECT * FROM read_text('{secret}')",
        f"SELECT * FROM read_text('{lake_dir}/lake/curated/../../secret.txt')",
        "SELECT * FROM read_csv('https://127.0.0.1:9/x.csv')",
        f"SELECT * FROM glob('{lake_dir}/*')",
        f"COPY (SELECT 1) TO '{lake_dir}/out.csv'",
        f"ATTACH '{lake_dir}/other.duckdb'",
        "INSTALL httpfs",
        "LOAD httpfs",
    ):
        with pytest.raises(QueryError, match="reads only the lake's own folders") as caught:
            raw(sql)
        assert "\n" not in str(caught.value) and SECRET not in str(caught.value)
    assert not (lake_dir / "out.csv").exists() and not (lake_dir / "other.duckdb").exists()
    # ... and the fence cannot be taken down from inside.
    for sql in (
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET autoinstall_known_extensions = true",
    ):
        with pytest.raises(QueryError, match="configuration has been locked"):
            raw(sql)
    with pytest.raises(QueryError, match="reads only the lake's own folders"):
        raw(f"SELECT * FROM read_text('{secret}')")


def test_a_reader_that_slips_past_the_text_check_fails_in_duckdb(
    settings: Settings, lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole run_query path with layer 1 switched off: DuckDB's sandbox still says no."""
    monkeypatch.setattr(local, "refuse_reader_calls", lambda sql: None)
    monkeypatch.setattr(local, "refuse_outside_access", lambda tree: None)
    # The function table (issue 20) refuses read_text by name too; switch it off as well.
    monkeypatch.setattr("lakelib.query._trino.check_calls", lambda tree: None)
    secret = lake_dir / "secret.txt"
    for sql in (
        f"SELECT * FROM read_text('{secret}')",
        f"SELECT name FROM scores WHERE name IN (SELECT content FROM read_text('{secret}'))",
        "SELECT * FROM read_csv('https://127.0.0.1:9/x.csv')",
    ):
        with pytest.raises(QueryError, match="reads only the lake's own folders") as caught:
            run_query(sql, settings=settings)
        assert SECRET not in str(caught.value) and "\n" not in str(caught.value)
        record = query_history(1, settings=settings)[0]
        assert record.state == "FAILED" and not record.output_location


def test_catalog_entries_and_links_that_lead_outside_are_refused(
    settings: Settings, lake_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.csv").write_text(f"name\n{SECRET}\n")
    catalog = open_catalog(settings)
    catalog.put_table(
        Table(
            database=settings.database,
            name="stray",
            columns=(Column("name", "string"),),
            location=str(outside),
            classification="csv",
            parameters={"skip.header.line.count": "1"},
        )
    )
    try:
        with pytest.raises(QueryError, match=r"table stray is stored at .*outside the lake"):
            run_query("SELECT * FROM stray", settings=settings)
    finally:
        catalog.delete_table("stray")
    link = lake_dir / "lake" / "curated" / "scores" / "b.csv"
    link.symlink_to(outside / "x.csv")
    try:
        with pytest.raises(QueryError, match="links outside the lake's folders"):
            run_query("SELECT * FROM scores", settings=settings)
    finally:
        link.unlink()


def test_lake_queries_still_work(settings: Settings) -> None:
    result = run_query(
        "WITH top AS (SELECT name, score FROM scores WHERE score >= ?) "
        "SELECT t.name, t.score, x, (SELECT count(*) FROM events WHERE id < 10) AS n "
        "FROM top t CROSS JOIN UNNEST(ARRAY[1, 2]) AS u(x) "
        "WHERE t.name IN (SELECT name FROM scores) ORDER BY t.name, x",
        params=[2],
        settings=settings,
    )
    assert result.table.to_pylist() == [
        {"name": "bob", "score": 2, "x": 1, "n": 10},
        {"name": "bob", "score": 2, "x": 2, "n": 10},
        {"name": "cy", "score": 3, "x": 1, "n": 10},
        {"name": "cy", "score": 3, "x": 2, "n": 10},
    ]
    # A string that merely mentions a reader is data, not a call.
    odd = run_query("SELECT 'read_text(''/etc/passwd'')' AS s", settings=settings)
    assert odd.table.to_pylist() == [{"s": "read_text('/etc/passwd')"}]


# -- results: streamed to the CSV, capped in memory ----------------------------------------


def test_multi_batch_result_csv_matches_the_whole_table(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = LocalQueries(settings)
    sql = "SELECT * FROM events WHERE id < 900 ORDER BY id"
    whole = engine.execute(engine.plan(sql, database=settings.database))
    assert whole.num_rows == 900
    monkeypatch.setattr(local, "BATCH_ROWS", 128)  # 900 rows -> 8 batches
    _schema, stream = engine.batches(
        engine.plan(sql, database=settings.database), engine.connection().cursor()
    )
    assert len(list(stream)) >= 7
    result = engine.run(sql, database=settings.database, workgroup="primary")
    written = Path(result.output_location).read_bytes()
    assert written == render_csv(whole, quote_all=True)
    assert written.count(b"\n") == 901 and result.table.equals(whole)


def test_empty_result_csv_is_a_header(settings: Settings) -> None:
    result = run_query("SELECT id, label FROM events WHERE id < 0", settings=settings)
    assert Path(result.output_location).read_text() == '"id","label"\n'
    assert result.table.num_rows == 0 and len(result) == 0


def test_result_past_the_row_cap_is_complete_on_disk_and_refused_in_memory(
    settings: Settings,
) -> None:
    result = run_query("SELECT id, label FROM events ORDER BY id", settings=settings)
    assert len(result) == BIG_ROWS and result.record.rows == BIG_ROWS and not result.held
    lines = Path(result.output_location).read_text().splitlines()
    assert (
        len(lines) == BIG_ROWS + 1 and lines[-1] == f'"{BIG_ROWS - 1}","say ""hi"", {BIG_ROWS - 1}"'
    )
    for attempt in (lambda: result.df, lambda: result.table, result.to_pandas):
        with pytest.raises(QueryError) as caught:
            attempt()
        message = str(caught.value)
        assert f"{BIG_ROWS:,} rows" in message and "max_result_rows" in message
        assert result.output_location in message and "LIMIT" in message
    assert result.head(3).column("id").to_pylist() == [0, 1, 2]
    # Under the cap (1,000 in this lake) the DataFrame is there as before.
    small = run_query("SELECT id FROM events WHERE id < 1000", settings=settings)
    assert len(small.df) == 1000
    meta = json.loads(Path(result.output_location.replace(".csv", ".metadata.json")).read_text())
    assert meta["state"] == "SUCCEEDED" and meta["rows"] == BIG_ROWS


def test_cli_table_view_is_capped_and_csv_streams_a_large_result(
    lake: LakeCli, lake_dir: Path
) -> None:
    shown = lake("query", "SELECT id, label FROM events ORDER BY id", cwd=lake_dir)
    assert shown.returncode == 0, shown.stderr
    assert "99 " in shown.stdout and "│ 100 " not in shown.stdout
    assert f"{BIG_ROWS - 100:,} more rows not shown" in shown.stderr
    assert len(shown.stdout.splitlines()) < 150
    full = lake("query", "SELECT id, label FROM events ORDER BY id", "-f", "csv", cwd=lake_dir)
    assert full.returncode == 0, full.stderr
    lines = full.stdout.splitlines()
    assert len(lines) == BIG_ROWS + 1 and lines[:2] == ["id,label", "0,"]
    assert lines[2] == '1,"say ""hi"", 1"'
    too_big = lake("query", "SELECT id FROM events", "-f", "json", cwd=lake_dir)
    assert too_big.returncode == 1 and too_big.stderr.count("\n") == 1
    assert "max_result_rows" in too_big.stderr


def test_timestamps_in_the_csv_keep_trinos_text() -> None:
    """The CSV's timestamps are computed by Arrow now; they must read as Trino writes them."""
    from lakelib.query._results import textual, trino_text

    values = [
        dt.datetime(2026, 1, 1, 0, 0, 0, 123999),  # digits past the millisecond are dropped
        dt.datetime(1969, 12, 31, 23, 59, 59, 999500),  # before 1970: still dropped, not rounded
        None,
        dt.datetime(2026, 5, 5, 5, 5, 5),
        dt.datetime(1, 1, 1),  # a year Arrow's strftime would not pad
    ]
    for tz in (None, "UTC", "Europe/Paris"):
        stamps = [v if v is None or tz is None else v.replace(tzinfo=dt.UTC) for v in values]
        if tz == "Europe/Paris":
            stamps = stamps[:4]
        table = pa.table({"t": pa.array(stamps, pa.timestamp("us", tz))})
        expected = [None if v is None else trino_text(v) for v in table.column(0).to_pylist()]
        assert textual(table).column(0).to_pylist() == expected
    assert textual(pa.table({"t": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5, 678000)])})).column(
        0
    ).to_pylist() == ["2026-01-02 03:04:05.678"]
