"""The strict request-shape plugin catches what botocore and moto let through."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from plugins import _shapes, strict_shapes

TESTS = Path(__file__).resolve().parent.parent


def _glue_model() -> object:
    return boto3.session.Session(region_name="us-east-1").client("glue").meta.service_model


def test_the_models_limits_enums_and_patterns_are_checked() -> None:
    glue = _glue_model()
    hundred = [{"Values": [str(n)]} for n in range(100)]
    ok = {"DatabaseName": "db", "TableName": "t", "PartitionsToDelete": hundred[:25]}
    assert _shapes.check_request(glue, "BatchDeletePartition", ok) == []
    assert _shapes.check_request(
        glue, "BatchDeletePartition", {**ok, "PartitionsToDelete": hundred}
    ) == ["glue.BatchDeletePartition: PartitionsToDelete: 100 items, max 25"]
    assert _shapes.check_request(
        glue,
        "BatchCreatePartition",
        {"DatabaseName": "db\x01", "TableName": "", "PartitionInputList": []},
    ) == [
        "glue.BatchCreatePartition: DatabaseName: 'db\\x01' does not match pattern "
        "'[\\\\u0020-\\\\uD7FF\\\\uE000-\\\\uFFFD\\\\uD800\\\\uDC00-\\\\uDBFF\\\\uDFFF\\\\t]*'",
        "glue.BatchCreatePartition: TableName: length 0, min 1",
    ]
    # A character beyond the BMP is inside Java's surrogate-pair range, so it is accepted.
    assert (
        _shapes.check_request(glue, "GetTable", {"DatabaseName": "db\U0001f600", "Name": "t"}) == []
    )
    problems = _shapes.check_request(
        glue,
        "StartJobRun",
        {"JobName": "j", "WorkerType": "G.3X.huge", "NumberOfWorkers": 0, "Timeout": 0},
    )
    assert problems[0] == "glue.StartJobRun: Timeout: 0 < min 1"
    assert problems[1].startswith("glue.StartJobRun: WorkerType: 'G.3X.huge' not in enum (")
    assert len(problems) == 2


def test_a_test_sending_what_aws_refuses_fails_naming_the_request(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            import boto3
            from botocore.stub import Stubber

            def test_deletes_too_many():
                glue = boto3.client("glue", region_name="us-east-1",
                                    aws_access_key_id="x", aws_secret_access_key="x")
                with Stubber(glue) as stub:
                    stub.add_response("batch_delete_partition", {})
                    # An outer except cannot hide it: the test still fails.
                    try:
                        glue.batch_delete_partition(
                            DatabaseName="db", TableName="t",
                            PartitionsToDelete=[{"Values": [str(n)]} for n in range(100)],
                        )
                    except Exception:
                        pass
            """
        )
    )
    monkeypatch.delenv(_shapes.LOG_ENV, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # nbval & co. cost seconds
    result = pytester.runpytest_subprocess("-p", "plugins.strict_shapes", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*strict request shapes: 1 request parameter(s) AWS would refuse during call:",
            "*glue.BatchDeletePartition: PartitionsToDelete: 100 items, max 25",
        ]
    )


def test_requests_from_python_subprocesses_are_checked() -> None:
    script = textwrap.dedent(
        """
        import boto3
        from botocore.stub import Stubber
        glue = boto3.client("glue", region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="x")
        with Stubber(glue) as stub:
            stub.add_response("get_table", {"Table": {"Name": "t"}})
            glue.get_table(DatabaseName="d" * 300, Name="t")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    found = strict_shapes.collect()  # drained here, so this test itself passes
    assert len(found) == 1
    assert found[0].startswith("glue.GetTable: DatabaseName: length 300, max 255 (in subprocess ")


@pytest.mark.aws
def test_the_old_glue_delete_batch_of_100_is_caught_against_moto(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelib.catalog import Column, GlueCatalog, Table, _glue

    catalog = GlueCatalog("data_lake_db", region="us-east-1")
    table = Table(
        database="data_lake_db",
        name="sales_clean",
        columns=(Column("id", "bigint"),),
        partition_keys=("day",),
        location="s3://processed/sales_clean",
    )
    catalog.put_table(table)
    parts = [table.partition({"day": f"{n:03d}"}) for n in range(100)]
    catalog.add_partitions("sales_clean", parts)
    monkeypatch.setattr(_glue, "DELETE_BATCH", 100)  # the chunk size before the fix
    assert catalog.delete_partitions("sales_clean", parts) == 100  # moto accepts it...
    # ...the plugin does not (drained here, so this test itself passes).
    assert strict_shapes.collect() == [
        "glue.BatchDeletePartition: PartitionsToDelete: 100 items, max 25"
    ]
