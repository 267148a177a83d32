"""EMR, ML and reporting layers, and that the optional ones stay off by default."""

from __future__ import annotations

import json

from pulumi_harness import Platform


def test_emr_cluster_has_the_design_shape(platform: Platform) -> None:
    (cluster,) = platform.of_type("aws:emr/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["releaseLabel"].startswith("emr-7.")
    assert set(inputs["applications"]) == {"Spark", "Hadoop", "Hive", "Livy"}
    assert inputs["masterInstanceGroup"]["instanceType"] == "m5.xlarge"
    assert inputs["coreInstanceGroup"]["instanceType"] == "m5.large"
    assert inputs["coreInstanceGroup"]["instanceCount"] == 2
    assert inputs["autoTerminationPolicy"]["idleTimeout"] == 3600
    assert inputs["ec2Attributes"]["subnetId"] == platform.outputs["private_subnet_ids"][0]
    hive = json.loads(inputs["configurationsJson"])
    assert any(c["Classification"] == "spark-hive-site" for c in hive)
    (scaling,) = platform.of_type("aws:emr/managedScalingPolicy:ManagedScalingPolicy")
    (limits,) = scaling.inputs["computeLimits"]
    assert (limits["minimumCapacityUnits"], limits["maximumCoreCapacityUnits"]) == (2, 5)
    # On-demand capacity stops at the core nodes: everything above is spot.
    assert limits["maximumOndemandCapacityUnits"] == 5 < limits["maximumCapacityUnits"]
    (task,) = platform.of_type("aws:emr/instanceGroup:InstanceGroup")
    assert task.inputs["bidPrice"]  # a bid price is what makes an instance group spot


def test_emr_is_off_by_default(minimal_platform: Platform) -> None:
    assert minimal_platform.of_type("aws:emr/cluster:Cluster") == []
    assert "emr_cluster_id" not in minimal_platform.outputs


def test_notebook_instance_for_data_scientists(platform: Platform) -> None:
    (notebook,) = platform.of_type("aws:sagemaker/notebookInstance:NotebookInstance")
    inputs = notebook.inputs
    assert inputs["instanceType"] == "ml.t3.medium"
    assert inputs["volumeSize"] == 20
    assert inputs["roleArn"] == platform.outputs["sagemaker_role_arn"]
    assert inputs["directInternetAccess"] == "Disabled"
    assert inputs["rootAccess"] == "Disabled"
    assert inputs["kmsKeyId"] == platform.outputs["data_key_arn"]


def test_quicksight_reports_on_athena_refreshed_daily_at_six_utc(platform: Platform) -> None:
    (source,) = platform.of_type("aws:quicksight/dataSource:DataSource")
    assert source.inputs["type"] == "ATHENA"
    assert source.inputs["parameters"]["athena"]["workGroup"] == "analytics"
    datasets = {
        d.inputs["name"]: d.inputs for d in platform.of_type("aws:quicksight/dataSet:DataSet")
    }
    assert set(datasets) == {"sales_clean", "customer_aggregates"}
    for inputs in datasets.values():
        (table,) = inputs["physicalTableMaps"]
        assert table["relationalTable"]["schema"] == "data_lake_db"
    schedules = platform.of_type("aws:quicksight/refreshSchedule:RefreshSchedule")
    assert len(schedules) == 2
    for schedule in schedules:
        frequency = schedule.inputs["schedule"]["scheduleFrequency"]
        assert frequency == {"interval": "DAILY", "timeOfTheDay": "06:00", "timezone": "UTC"}


def test_reporting_is_off_by_default(minimal_platform: Platform) -> None:
    assert minimal_platform.of_type("aws:quicksight/dataSource:DataSource") == []
