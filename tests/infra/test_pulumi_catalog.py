"""Catalog & ETL layer: database, crawlers per zone, Glue jobs from jobs/ as designed."""

from __future__ import annotations

from lake_platform.catalog import glue_version_ok
from pulumi_harness import Platform

from lakelib.catalog._crawler import table_name_for

JOB = "aws:glue/job:Job"
CRAWLER = "aws:glue/crawler:Crawler"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


def test_database_name_comes_from_lake_toml(platform: Platform) -> None:
    (database,) = platform.of_type("aws:glue/catalogDatabase:CatalogDatabase")
    assert database.inputs["name"] == "data_lake_db"
    assert platform.outputs["database"] == "data_lake_db"


def test_crawlers_cover_raw_processed_quarantine_and_curated(platform: Platform) -> None:
    crawlers = {c.name: c.inputs for c in platform.of_type(CRAWLER)}
    processed = platform.outputs["processed_bucket"]
    raw = crawlers["catalog-raw"]
    assert raw["tablePrefix"] == "raw_"
    assert raw["s3Targets"][0]["path"] == f"s3://{platform.outputs['raw_bucket']}/"
    (target,) = crawlers["catalog-processed"]["s3Targets"]
    assert target["path"] == f"s3://{processed}/"
    assert target["exclusions"] == ["quarantine/**"]
    # The ETL's rejects beside processed data, and what the ingestion Lambda refused in raw.
    quarantine = [t["path"] for t in crawlers["catalog-quarantine"]["s3Targets"]]
    assert quarantine == [
        f"s3://{processed}/quarantine/",
        f"s3://{platform.outputs['raw_bucket']}/_quarantine/",
    ]
    assert crawlers["catalog-quarantine"]["tablePrefix"] == "quarantine_"
    for inputs in crawlers.values():
        assert inputs["databaseName"] == "data_lake_db"
        assert inputs["schemaChangePolicy"]["updateBehavior"] == "UPDATE_IN_DATABASE"


def test_crawlers_name_tables_as_lake_crawl_does(platform: Platform) -> None:
    """A notebook or query names a table the same on both profiles: what `lake crawl` calls
    a zone's folder is what the stack's crawler of that zone creates (prefix + folder)."""
    crawlers = {c.name: c.inputs for c in platform.of_type(CRAWLER)}
    for zone in ("raw", "processed", "quarantine", "curated"):
        prefix = crawlers[f"catalog-{zone}"].get("tablePrefix") or ""
        assert prefix + "sales_clean" == table_name_for(zone, "sales_clean"), zone
    assert table_name_for("quarantine", "raw_sales") == "quarantine_raw_sales"


def test_glue_jobs_have_the_design_settings(platform: Platform) -> None:
    jobs = {j.name: j.inputs for j in platform.of_type(JOB)}
    # The pipeline's other stages are SageMaker jobs (tests/infra/test_pulumi_pipeline_stage.py).
    assert set(jobs) == {"catalog-sales_clean", "catalog-curate"}
    for inputs in jobs.values():
        assert glue_version_ok(inputs["glueVersion"])
        assert float(inputs["glueVersion"]) >= 4.0
        assert 2 <= inputs["numberOfWorkers"] <= 10
        assert inputs["maxRetries"] == 0  # the state machine's Retry decides (one orchestrator)
        args = inputs["defaultArguments"]
        assert args["--job-bookmark-option"] == "job-bookmark-enable"
        assert args["--enable-auto-scaling"] == "true"
        assert args["--database"] == "data_lake_db"
        assert inputs["command"]["name"] == "glueetl"
        assert inputs["securityConfiguration"]
    assert jobs["catalog-curate"]["numberOfWorkers"] == 6


def test_scripts_wheelhouse_and_config_are_uploaded(platform: Platform) -> None:
    scripts = platform.outputs["scripts_bucket"]
    objects = platform.of_type(OBJECT)
    assert {o.inputs["bucket"] for o in objects} == {scripts}
    assert {o.inputs["key"] for o in objects} == {
        "config/lake.toml",
        "jobs/sales_clean.py",
        "jobs/curate.py",
        "jobs/pipeline_stage.py",
        "jobs/emr_bootstrap.sh",
        "jobs/lib/lakelib-0.1.0-py3-none-any.whl",
        "jobs/lib/lakelib-0.1.0-glue5.gluewheels.zip",
        "jobs/lib/lakelib-0.1.0-emr7.zip",
    }
    (job,) = [j for j in platform.of_type(JOB) if j.name == "catalog-sales_clean"]
    assert job.inputs["command"]["scriptLocation"] == f"s3://{scripts}/jobs/sales_clean.py"


def test_a_declared_job_without_a_script_is_not_created(platform: Platform) -> None:
    assert not [j for j in platform.of_type(JOB) if "missing_job" in j.name]


def test_no_jobs_declared_by_default(minimal_platform: Platform) -> None:
    assert minimal_platform.of_type(JOB) == []
    assert len(minimal_platform.of_type(CRAWLER)) == 4


def test_glue_versions_older_than_4_are_refused() -> None:
    assert glue_version_ok("4.0") and glue_version_ok("5.0")
    assert not glue_version_ok("3.0") and not glue_version_ok("latest")
