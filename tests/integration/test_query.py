"""The query stage on a real local lake (DuckDB + SQLite catalog) and Athena on moto server."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from plugins.cli import LakeCli

from lakelib.catalog import crawl
from lakelib.config import Settings, load_settings
from lakelib.errors import QueryError
from lakelib.query import explain_query, query_history, run_query
from lakelib.query._local import LocalQueries

DAYS = 60
ROWS_PER_DAY = 50


def _day(n: int) -> dt.date:
    return dt.date(2026, 1, 1) + dt.timedelta(days=n)


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 days of sales_clean (Parquet) under processed/, crawled; a lake.toml with a small
    cutoff for the ``analytics`` workgroup."""
    root = tmp_path_factory.mktemp("querylake")
    (root / "lake.toml").write_text(
        '[profiles.local]\nhome = "lake"\n'
        "[workgroups.primary]\nbytes_scanned_cutoff = 10_000_000_000\n"
        "[workgroups.analytics]\nbytes_scanned_cutoff = 20_000\n"
    )
    home = root / "lake"
    for n in range(DAYS):
        day = _day(n)
        folder = (
            home
            / "processed"
            / "sales_clean"
            / f"year={day.year}/month={day.month:02d}/day={day.day:02d}"
        )
        folder.mkdir(parents=True)
        ids = list(range(n * ROWS_PER_DAY, (n + 1) * ROWS_PER_DAY))
        table = pa.table(
            {
                "id": pa.array(ids, pa.int64()),
                "amount": pa.array([float(i % 97) for i in ids]),
                "channel": pa.array(["web" if i % 3 else "store" for i in ids]),
            }
        )
        pq.write_table(table, folder / "part-00000.parquet")
        # Spark's marker and a temp file are not data.
        (folder / "_SUCCESS").write_bytes(b"")
    settings = _settings(root)
    crawl("processed", settings=settings)
    return root


def _settings(root: Path) -> Settings:
    return load_settings(home=root / "lake", cwd=root, env={"LAKE_CONFIG": str(root / "lake.toml")})


@pytest.fixture
def settings(lake_dir: Path) -> Settings:
    return _settings(lake_dir)


def _day_bytes(lake_dir: Path, day: dt.date) -> int:
    folder = (
        lake_dir
        / "lake"
        / "processed"
        / "sales_clean"
        / f"year={day.year}/month={day.month:02d}/day={day.day:02d}"
    )
    return sum(p.stat().st_size for p in folder.glob("*.parquet"))


def test_one_day_of_sixty_reads_only_that_days_files(settings: Settings, lake_dir: Path) -> None:
    day = _day(17)
    result = run_query(
        "SELECT count(*) AS n, sum(amount) AS total FROM sales_clean "
        "WHERE year = '2026' AND month = ? AND day = ?",
        params=[f"{day.month:02d}", f"{day.day:02d}"],
        settings=settings,
    )
    assert result.table.to_pylist()[0]["n"] == ROWS_PER_DAY
    assert result.bytes_scanned == _day_bytes(lake_dir, day)
    scan = result.record.scans[0]
    assert (scan["partitions_read"], scan["partitions_total"], scan["files"]) == (1, DAYS, 1)
    everything = run_query("SELECT count(*) AS n FROM sales_clean", settings=settings)
    assert everything.table.column("n").to_pylist() == [DAYS * ROWS_PER_DAY]
    assert everything.bytes_scanned == sum(_day_bytes(lake_dir, _day(n)) for n in range(DAYS))


def test_result_location_and_metadata(settings: Settings, lake_dir: Path) -> None:
    result = run_query(
        "SELECT channel, count(*) FROM sales_clean WHERE day = '01' "
        "GROUP BY channel ORDER BY channel",
        workgroup="ml_data",
        settings=settings,
    )
    folder = lake_dir / "lake" / "query-results" / "ml_data"
    csv = folder / f"{result.query_id}.csv"
    assert csv.read_text().splitlines() == ['"channel","_col1"', '"store","50"', '"web","100"']
    meta = json.loads((folder / f"{result.query_id}.metadata.json").read_text())
    assert meta["state"] == "SUCCEEDED" and meta["workgroup"] == "ml_data"
    assert (
        meta["sql"].startswith("SELECT channel")
        and "read_parquet" in meta["translated_sql"].lower()
    )
    assert meta["bytes_scanned"] == result.bytes_scanned > 0
    assert meta["cost_usd"] == pytest.approx(10 * 10**6 / 10**12 * 5)  # 10 MB minimum
    assert meta["rows"] == 2 and meta["total_ms"] > 0 and meta["output_location"] == str(csv)
    assert any(r.query_id == result.query_id for r in query_history(5, settings=settings))


def test_result_csv_writes_values_as_athena_prints_them(settings: Settings, lake_dir: Path) -> None:
    # Doubles as Trino's client prints them (Java's Double.toString: "1225.0", "1.0E7",
    # "1.0E-4"; the Trino CLI shows 1.2345678912345679E8, trinodb/trino#6813), decimals with
    # their scale, arrays and maps in Trino's text form, the same inside them.
    result = run_query(
        "SELECT sum(amount) AS total, 1e7 AS big, 1e-4 AS small, -0.5e0 AS half, "
        "123456789.12345679e0 AS long_double, CAST(2.5 AS DECIMAL(10, 2)) AS money, "
        "ARRAY[1e7, 2e0] AS doubles, MAP(ARRAY['k'], ARRAY[1e-4]) AS m "
        "FROM sales_clean WHERE month = '01' AND day = '01'",
        settings=settings,
    )
    csv = lake_dir / "lake" / "query-results" / "primary" / f"{result.query_id}.csv"
    assert csv.read_text().splitlines()[1] == (
        '"1225.0","1.0E7","1.0E-4","-0.5","1.2345678912345679E8","2.50","[1.0E7, 2.0]","{k=1.0E-4}"'
    )


def test_result_csv_prints_a_timestamps_precision(settings: Settings, lake_dir: Path) -> None:
    # language/types.html: a TIMESTAMP literal has the precision of its text; a literal
    # without fraction is timestamp(0) and Trino prints it without one (so does date_add on
    # it); cast text and table columns are timestamp(3).
    result = run_query(
        "SELECT TIMESTAMP '2024-01-02 03:04:05' AS t0, "
        "date_add('hour', 1, TIMESTAMP '2024-01-02 03:04:05') AS t0_plus, "
        "CAST('2024-01-02 03:04:05' AS TIMESTAMP) AS t3",
        settings=settings,
    )
    csv = lake_dir / "lake" / "query-results" / "primary" / f"{result.query_id}.csv"
    assert csv.read_text().splitlines()[1] == (
        '"2024-01-02 03:04:05","2024-01-02 04:04:05","2024-01-02 03:04:05.000"'
    )
    with pytest.raises(QueryError, match=r"a result column of timestamp\(6\) is not supported"):
        run_query("SELECT TIMESTAMP '2024-01-02 03:04:05.123456'", settings=settings)
    # varbinary: how Athena writes bytes into its CSV is not checked, so never b'...'.
    with pytest.raises(QueryError, match="a varbinary result column"):
        run_query("SELECT md5(to_utf8('a')) AS digest", settings=settings)
    # Intervals and times are printed by Trino in forms the local engine does not render.
    with pytest.raises(QueryError, match="an interval result column"):
        run_query("SELECT INTERVAL '1' DAY AS gap", settings=settings)
    with pytest.raises(QueryError, match="a time result column"):
        run_query("SELECT TIME '01:02:03' AS t", settings=settings)
    # Inside an array a timestamp(0) would print with Trino's no fraction; the nested text
    # has milliseconds: refused by name, while timestamp(3) elements print as Trino does.
    with pytest.raises(QueryError, match=r"a timestamp\(0\) inside an array, map or row \(a\)"):
        run_query("SELECT ARRAY[TIMESTAMP '2024-01-02 03:04:05'] AS a", settings=settings)
    nested = run_query("SELECT ARRAY[TIMESTAMP '2024-01-02 03:04:05.120'] AS a", settings=settings)
    csv = lake_dir / "lake" / "query-results" / "primary" / f"{nested.query_id}.csv"
    assert csv.read_text().splitlines()[1] == '"[2024-01-02 03:04:05.120]"'


def test_cutoff_fails_like_athena_and_leaves_no_result(settings: Settings, lake_dir: Path) -> None:
    with pytest.raises(QueryError, match="Query cancelled! : Bytes scanned limit was exceeded"):
        run_query("SELECT count(*) FROM sales_clean", workgroup="analytics", settings=settings)
    record = query_history(1, workgroup="analytics", settings=settings)[0]
    assert record.state == "FAILED" and "Bytes scanned limit" in record.state_reason
    folder = lake_dir / "lake" / "query-results" / "analytics"
    assert not (folder / f"{record.query_id}.csv").exists()
    # The same query on one day fits under the cutoff.
    ok = run_query(
        "SELECT count(*) FROM sales_clean WHERE day = '02' AND month = '01'",
        workgroup="analytics",
        settings=settings,
    )
    assert ok.table.to_pylist() == [{"_col0": ROWS_PER_DAY}]


def test_explain_shows_pruning_bytes_and_price(settings: Settings, lake_dir: Path) -> None:
    plan = explain_query(
        "SELECT * FROM sales_clean WHERE month = '02' AND day BETWEEN '01' AND '07'",
        settings=settings,
    )
    assert plan.scans[0]["partitions_read"] == 7
    assert plan.bytes_scanned == sum(_day_bytes(lake_dir, _day(31 + n)) for n in range(7))
    text = "\n".join(plan.lines())
    assert "7/60 partitions" in text and "$" in text


def test_bad_input_messages(settings: Settings) -> None:
    with pytest.raises(QueryError, match=r"syntax error at line 2, column 6"):
        run_query("SELECT id\nFROM WHERE id = 1", settings=settings)
    with pytest.raises(
        QueryError,
        match=r"Table 'data_lake_db.sales' does not exist "
        r"\(known tables: sales_clean\)",
    ):
        run_query("SELECT * FROM sales", settings=settings)
    with pytest.raises(QueryError, match="2 parameter"):
        run_query("SELECT ?, ?", params=[1], settings=settings)
    failed = [r for r in query_history(10, settings=settings) if r.state == "FAILED"]
    assert failed and all(not r.output_location for r in failed)


def test_cancelled_query_leaves_a_cancelled_record_and_no_csv(
    settings: Settings, lake_dir: Path
) -> None:
    engine = LocalQueries(settings)
    errors: list[BaseException] = []

    def slow() -> None:
        try:
            engine.run(
                "SELECT sum(a.id * b.id) FROM sales_clean a CROSS JOIN sales_clean b "
                "CROSS JOIN sales_clean c",
                database="data_lake_db",
                workgroup="primary",
                query_id="cancel-me",
            )
        except QueryError as exc:
            errors.append(exc)

    worker = threading.Thread(target=slow)
    worker.start()
    deadline = time.monotonic() + 20
    while not engine.cancel("cancel-me"):
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.02)
    worker.join(30)
    assert errors and "cancelled" in str(errors[0])
    folder = lake_dir / "lake" / "query-results" / "primary"
    meta = json.loads((folder / "cancel-me.metadata.json").read_text())
    assert meta["state"] == "CANCELLED"
    assert not (folder / "cancel-me.csv").exists()


def test_catalog_changes_are_seen_by_the_same_engine(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "lake", cwd=tmp_path, env={})
    folder = tmp_path / "lake" / "curated" / "scores"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("name,score\nann,1\n")
    crawl("curated", settings=settings)
    assert run_query("SELECT sum(score) FROM scores", settings=settings).table.to_pylist() == [
        {"_col0": 1}
    ]
    (folder / "b.csv").write_text("name,score\nbob,2\n")
    assert run_query("SELECT sum(score) FROM scores", settings=settings).table.to_pylist() == [
        {"_col0": 3}
    ]


# -- the CLI, as a user runs it -----------------------------------------------------------


def test_cli_csv_json_output_history_and_errors(
    lake: LakeCli, lake_dir: Path, tmp_path: Path
) -> None:
    sql = (
        "SELECT channel, count(*) AS n FROM sales_clean WHERE day = '01' GROUP BY channel "
        "ORDER BY channel"
    )
    csv = lake("query", sql, "--format", "csv", cwd=lake_dir)
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.splitlines() == ["channel,n", "store,50", "web,100"]
    js = lake(
        "query",
        "SELECT count(*) AS n FROM sales_clean WHERE day = ?",
        "--param",
        "'01'",
        "--format",
        "json",
        "--workgroup",
        "analytics",
        cwd=lake_dir,
    )
    assert js.returncode == 0, js.stderr
    assert json.loads(js.stdout) == [{"n": ROWS_PER_DAY * 3}]  # Jan 1, Feb 1, Mar 1
    out = tmp_path / "r.csv"
    written = lake("query", sql, "--format", "csv", "--output", str(out), cwd=lake_dir)
    assert written.returncode == 0 and written.stdout == ""
    assert out.read_text().startswith("channel,n\n")
    explain = lake("query", "SELECT * FROM sales_clean WHERE day = '03'", "--explain", cwd=lake_dir)
    assert explain.returncode == 0 and "2/60 partitions" in explain.stdout
    bad = lake("query", "SELECT FROM WHERE", cwd=lake_dir)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "line 1, column" in bad.stderr
    cut = lake("query", "SELECT count(*) FROM sales_clean", "-w", "analytics", cwd=lake_dir)
    assert cut.returncode == 1 and "Bytes scanned limit was exceeded" in cut.stderr
    history = lake("query", "--history", "--limit", "3", cwd=lake_dir)
    assert history.returncode == 0 and "FAILED" in history.stdout


# -- Athena on moto server ----------------------------------------------------------------


def test_athena_submission_poll_and_result(aws: str, tmp_path: Path) -> None:
    from lakelib.aws import client

    client("s3").create_bucket(Bucket="lake-results")
    # The workgroups exist in the account (infra/pulumi creates them).
    client("athena").create_work_group(
        Name="analytics",
        Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://lake-results/analytics/"},
            "EnforceWorkGroupConfiguration": False,
        },
    )
    settings = load_settings(
        profile="aws",
        cwd=tmp_path,
        env={"LAKE_QUERY_RESULTS_BUCKET": "lake-results", "LAKE_REGION": "us-east-1"},
    )
    queued = {
        "account_id": "123456789012",
        "region": "us-east-1",
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": "n"}]}, {"Data": [{"VarCharValue": "7"}]}],
                "column_info": [
                    {
                        "CatalogName": "hive",
                        "SchemaName": "",
                        "TableName": "",
                        "Name": "n",
                        "Label": "n",
                        "Type": "bigint",
                        "Precision": 19,
                        "Scale": 0,
                        "Nullable": "UNKNOWN",
                        "CaseSensitive": False,
                    }
                ],
            }
        ],
    }
    request = urllib.request.Request(
        f"{aws}/moto-api/static/athena/query-results",
        data=json.dumps(queued).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request).close()

    result = run_query(
        "SELECT count(*) AS n FROM sales_clean WHERE day = ?",
        params=["05"],
        workgroup="analytics",
        settings=settings,
    )
    assert result.table.column("n").to_pylist() == [7]
    assert result.record.engine == "athena" and result.record.state == "SUCCEEDED"
    assert result.record.output_location.startswith("s3://lake-results/analytics/")
    athena = client("athena")
    execution = athena.get_query_execution(QueryExecutionId=result.query_id)["QueryExecution"]
    assert execution["ExecutionParameters"] == ["'05'"]
    assert execution["WorkGroup"] == "analytics"
    assert any(
        r.query_id == result.query_id
        for r in query_history(5, workgroup="analytics", settings=settings)
    )
