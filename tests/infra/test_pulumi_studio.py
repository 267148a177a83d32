"""The optional SageMaker Studio layer (``sagemakerStudio.enabled``) under Pulumi's mocks.

Off by default; on, a VPC-only domain in the lake's private subnets, a user profile, an
execution role with no ``*`` action that passes the policy checks, a lifecycle configuration
that installs lakelib from the scripts bucket with no package index, and the interface
endpoints Studio needs, private DNS on, in the lake's VPC.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lake_platform.policies import check_all, check_no_wildcard_actions
from lake_platform.settings import PlatformConfigError
from pulumi_harness import ACCOUNT, REGION, REPO, Platform, run_program, stack_config

from lakelib.aws import client
from lakelib.config import Zone
from lakelib.config._settings import AWS_ZONE_LAYOUT
from lakelib.ml._sagemaker import training_plan_key
from lakelib.ml._transform import PREDICTIONS_TABLE
from lakelib.report._data import WORKGROUP as REPORT_WORKGROUP

DOMAIN = "aws:sagemaker/domain:Domain"
USER_PROFILE = "aws:sagemaker/userProfile:UserProfile"
LIFECYCLE = "aws:sagemaker/studioLifecycleConfig:StudioLifecycleConfig"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The full platform with the Studio layer on."""
    config = stack_config(tmp_path_factory.mktemp("studio"))
    config["sagemakerStudio"] = {"enabled": True, "userProfile": "analyst-1"}
    yield run_program(config)


def _studio_policy(platform: Platform) -> list[dict[str, Any]]:
    return json.loads(platform.one(ROLE_POLICY, "studio-role").inputs["policy"])["Statement"]


def _allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    def listed(value: Any) -> list[str]:
        return value if isinstance(value, list) else [value]

    return any(
        st["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in listed(st["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in listed(st["Resource"]))
        for st in statements
    )


def _script(platform: Platform) -> str:
    (config,) = platform.of_type(LIFECYCLE)
    return base64.b64decode(config.inputs["studioLifecycleConfigContent"]).decode()


def test_studio_is_off_by_default(minimal_platform: Platform, platform: Platform) -> None:
    for off in (minimal_platform, platform):
        assert off.of_type(DOMAIN) == [] and off.of_type(USER_PROFILE) == []
        assert off.of_type(LIFECYCLE) == []
        assert not [r for r in off.records if r.name.startswith("studio-")]
        assert "studio_domain_id" not in off.outputs


def test_a_vpc_only_domain_in_the_lakes_private_subnets(studio: Platform) -> None:
    (domain,) = studio.of_type(DOMAIN)
    inputs = domain.inputs
    assert inputs["appNetworkAccessType"] == "VpcOnly"
    assert inputs["authMode"] == "IAM"
    assert inputs["vpcId"] == studio.outputs["vpc_id"]
    assert inputs["subnetIds"] == studio.outputs["private_subnet_ids"]
    assert inputs["kmsKeyId"] == studio.outputs["data_key_arn"]
    user = inputs["defaultUserSettings"]
    assert user["executionRole"] == studio.outputs["studio_role_arn"]
    assert user["executionRole"] != studio.outputs["sagemaker_role_arn"]  # a role of its own
    (group,) = user["securityGroups"]
    sg = studio.one("aws:ec2/securityGroup:SecurityGroup", "studio-apps")
    assert group == "studio-apps-id"
    assert sg.inputs["vpcId"] == studio.outputs["vpc_id"]
    # Outbound: the group itself (JupyterLab, kernels), NFS to the domain's EFS inside the
    # VPC, HTTPS (the endpoints); nothing else.
    egress = {
        (e["fromPort"], e["toPort"], tuple(e.get("cidrBlocks", ()))) for e in sg.inputs["egress"]
    }
    assert egress == {(0, 65535, ()), (2049, 2049, ("10.40.0.0/16",)), (443, 443, ("0.0.0.0/0",))}
    assert user["sharingSettings"]["notebookOutputOption"] == "Disabled"
    (config,) = studio.of_type(LIFECYCLE)
    assert config.inputs["studioLifecycleConfigAppType"] == "JupyterLab"
    lab = user["jupyterLabAppSettings"]
    assert lab["defaultResourceSpec"]["lifecycleConfigArn"] == lab["lifecycleConfigArns"][0]
    assert ":studiolifecycleconfig/" in lab["lifecycleConfigArns"][0]
    assert config.inputs["studioLifecycleConfigName"] == "lake-test-install-lakelib"
    # Spaces start on SageMaker Distribution 2.x: Python 3.11, the wheelhouse's.
    spec = lab["defaultResourceSpec"]
    assert spec["sagemakerImageArn"] == (
        "arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu"
    )
    assert spec["sagemakerImageVersionAlias"] == "2"
    (profile,) = studio.of_type(USER_PROFILE)
    assert profile.inputs["userProfileName"] == "analyst-1"
    assert profile.inputs["domainId"] == studio.outputs["studio_domain_id"]
    assert studio.outputs["studio_user_profile"] == "analyst-1"


def test_the_execution_role_has_no_star_action_and_passes_the_policy_checks(
    studio: Platform,
) -> None:
    role_records = [r for r in studio.records if r.name == "studio-role"]
    assert check_no_wildcard_actions(role_records) == []
    assert check_all(studio.records) == []
    statements = _studio_policy(studio)
    actions = [a for st in statements for a in st["Action"]]
    assert not [a for a in actions if "*" in a]  # not even s3:Get*-style patterns
    assert all(st["Effect"] == "Allow" for st in statements)


def _zone_object(out: dict[str, Any], zone: Zone, key: str) -> str:
    """``arn:aws:s3:::<bucket>/<prefix><key>`` of a key in a zone, as lakelib lays it out."""
    output, prefix = AWS_ZONE_LAYOUT[zone]
    return f"arn:aws:s3:::{out[output]}/{prefix}{key}"


def test_the_execution_role_grants_what_notebooks_and_lake_call_and_no_more(
    studio: Platform,
) -> None:
    """Keys and names come from lakelib itself: a change of layout there fails here."""
    out = studio.outputs
    st = _studio_policy(studio)
    s3, scripts = "arn:aws:s3:::", out["scripts_bucket"]
    athena = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup"
    sm = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    needed = [
        # `lake status` and 01_explore size every zone (lakelib.storage.zone_usage).
        *(("s3:ListBucket", f"{s3}{out[AWS_ZONE_LAYOUT[z][0]]}") for z in Zone),
        # Athena reads a queried table's files as the caller: every zone with tables.
        *(
            ("s3:GetObject", _zone_object(out, z, "t/year=2026/month=03/day=01/p.parquet"))
            for z in (Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE)
        ),
        ("s3:GetObject", f"{s3}{scripts}/config/lake.toml"),  # LAKE_CONFIG
        ("s3:GetObject", f"{s3}{scripts}/jobs/lib/lakelib-0.1.0-emr7.zip"),  # the install
        ("s3:GetObject", f"{s3}{scripts}/jobs/notebooks/01_explore.ipynb"),  # copied once
        # 02_train: registry and artifact, training inputs, bundle and plan.
        ("s3:PutObject", _zone_object(out, Zone.MODELS, "churn/registry.json")),
        ("s3:PutObject", _zone_object(out, Zone.MODELS, "churn/v3/model.tar.gz")),
        ("s3:PutObject", _zone_object(out, Zone.SCRIPTS, "ml/churn-1/input/train/train.csv")),
        ("s3:PutObject", _zone_object(out, Zone.SCRIPTS, training_plan_key("manual-1"))),
        ("s3:GetObject", _zone_object(out, Zone.MODELS, "training-jobs/churn-1/output/x.tgz")),
        # 04_report and papermill copies; quality_by_day reads the ingest run records.
        ("s3:PutObject", _zone_object(out, Zone.RUNS, "2026-03-01/report.html")),
        ("s3:GetObject", _zone_object(out, Zone.RUNS, "ingest/sales/runs/x.json")),
        ("s3:PutObject", _zone_object(out, Zone.CURATED, f"{PREDICTIONS_TABLE}/year=2026/p")),
        ("glue:CreateTable", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/data_lake_db/predictions"),
        ("glue:GetPartitions", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/data_lake_db/sales"),
        # lk.read_sql (primary), the report (analytics), load_events (ml_data).
        *(
            (action, f"{athena}/{group}")
            for group in ("primary", REPORT_WORKGROUP, "ml_data")
            for action in ("athena:StartQueryExecution", "athena:GetQueryResults")
        ),
        *(
            ("s3:PutObject", _zone_object(out, Zone.QUERY_RESULTS, f"{group}/q.csv"))
            for group in ("primary", REPORT_WORKGROUP, "ml_data")
        ),
        ("sagemaker:DescribeTrainingJob", f"{sm}:training-job/churn-1"),
        ("sagemaker:InvokeEndpoint", f"{sm}:endpoint/churn"),
        ("iam:PassRole", out["sagemaker_role_arn"]),  # training jobs run as the jobs role
        ("sns:Publish", out["alerts_topic_arn"]),  # lake report's alerts
        ("kms:GenerateDataKey", out["data_key_arn"]),
        # Studio: the user's spaces and apps in this domain.
        ("sagemaker:CreateApp", f"{sm}:app/studio-domain-id/u/JupyterLab/default"),
        ("sagemaker:DescribeSpace", f"{sm}:space/studio-domain-id/my-space"),
    ]
    assert [n for n in needed if not _allowed(st, *n)] == []
    refused = [
        ("s3:PutObject", f"{s3}{scripts}/config/lake.toml"),  # the deployed config
        ("s3:PutObject", f"{s3}{scripts}/jobs/lib/lakelib-0.1.0-emr7.zip"),  # the wheelhouse
        ("s3:PutObject", f"{s3}{scripts}/jobs/sales_clean.py"),  # the ETL's code
        ("s3:PutObject", f"{s3}{scripts}/jobs/notebooks/01_explore.ipynb"),  # the pipeline's
        ("s3:PutObject", f"{s3}{out['raw_bucket']}/sales/x.json.gz"),  # the system of record
        ("s3:DeleteObject", f"{s3}{out['processed_bucket']}/sales_clean/x.parquet"),
        # The pipeline's curated tables (lk.write_table from a notebook is refused).
        ("s3:PutObject", _zone_object(out, Zone.CURATED, "customer_aggregates/part-0.parquet")),
        (
            "glue:UpdateTable",
            f"arn:aws:glue:{REGION}:{ACCOUNT}:table/data_lake_db/customer_aggregates",
        ),
        ("s3:GetObject", f"{s3}{out['logs_bucket']}/AWSLogs/x"),
        ("iam:PassRole", out["studio_role_arn"]),  # jobs run as the jobs role, not this one
        ("glue:CreateTable", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/data_lake_db/sales_clean"),
        ("glue:DeleteTable", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/data_lake_db/predictions"),
        ("sagemaker:CreateApp", f"{sm}:app/other-domain/u/JupyterLab/x"),
        ("sagemaker:CreateDomain", f"{sm}:domain/d-new"),
    ]
    assert [r for r in refused if _allowed(st, *r)] == []
    # Jobs started from Studio carry the stack's network and key, as the jobs role's do.
    (train,) = [s for s in st if s["Action"] == ["sagemaker:CreateTrainingJob"]]
    condition = train["Condition"]
    assert (
        condition["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"] == out["private_subnet_ids"]
    )
    assert condition["StringEquals"]["sagemaker:VolumeKmsKey"] == out["data_key_arn"]


def test_lifecycle_config_installs_from_the_scripts_bucket_without_an_index(
    studio: Platform,
) -> None:
    script = _script(studio)
    out = studio.outputs
    pip = re.search(r"-m pip install ([^\n]*\\\n[^\n]*)", script)
    assert pip is not None
    assert "--no-index" in pip.group(1) and "--find-links" in pip.group(1)
    assert not re.search(r"index-url|pypi\.org|https?://", script)  # no index, no internet
    # The wheelhouse comes from the stack's scripts bucket.
    assert f"download_file('{out['scripts_bucket']}', 'jobs/lib/lakelib-0.1.0-emr7.zip'" in script
    assert "export LAKE_PROFILE=aws" in script
    assert f"export LAKE_CONFIG={out['lake_config_uri']}" in script
    written = script.split("stack-outputs.json\" <<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0]
    names = json.loads(written)
    for key in ("scripts_bucket", "processed_bucket", "database", "sagemaker_role_arn",
                "sagemaker_security_group", "query_results_bucket"):  # fmt: skip
        assert names[key] == out[key], key
    assert names["sagemaker_subnets"] == ",".join(out["private_subnet_ids"])


def test_studio_endpoints_with_private_dns_in_the_lakes_vpc(
    studio: Platform, minimal_platform: Platform
) -> None:
    endpoints = {
        r.inputs["serviceName"].removeprefix(f"com.amazonaws.{REGION}."): r.inputs
        for r in studio.of_type(ENDPOINT)
        if r.inputs["vpcEndpointType"] == "Interface"
    }
    for service in ("sagemaker.api", "sagemaker.runtime", "sts", "logs", "athena", "glue", "sns"):
        inputs = endpoints[service]
        assert inputs["privateDnsEnabled"] is True, service
        assert inputs["vpcId"] == studio.outputs["vpc_id"]
        assert inputs["subnetIds"] == studio.outputs["private_subnet_ids"]
        (perimeter,) = json.loads(inputs["policy"])["Statement"]  # this account's callers only
        assert perimeter["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    services = [r.inputs["serviceName"] for r in studio.of_type(ENDPOINT)]
    assert len(services) == len(set(services))  # none declared twice (private DNS would clash)
    off = {r.inputs["serviceName"] for r in minimal_platform.of_type(ENDPOINT)}
    assert f"com.amazonaws.{REGION}.sagemaker.api" not in off


def test_studio_without_a_built_wheelhouse_is_refused(tmp_path: Path) -> None:
    config = stack_config(tmp_path)
    config["sagemakerStudio"] = {"enabled": True}
    config["wheelhouse"] = str(tmp_path / "not-built")
    config["emr"] = {"enabled": False}
    with pytest.raises(Exception, match=r"sagemakerStudio\.enabled needs the wheelhouse"):
        run_program(config)


def _probe_wheelhouse(folder: Path) -> Path:
    """A wheelhouse zip laid out as build_artifacts.py writes it, holding a stand-in
    ``lakelib`` wheel (a probe module) so the install runs offline in seconds."""
    info = "lakelib-0.1.0.dist-info"
    files = {
        "lakelib_studio_probe.py": "INSTALLED = True\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: lakelib\nVersion: 0.1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files["lakelib-0.1.0.dist-info/RECORD"] = "\n".join(
        [*record, "lakelib-0.1.0.dist-info/RECORD,,"]
    )
    wheel = folder / "lakelib-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    house = folder / "lakelib-0.1.0-emr7.zip"
    with zipfile.ZipFile(house, "w") as archive:
        archive.write(wheel, f"wheels/{wheel.name}")
        archive.writestr("wheels/requirements.txt", "lakelib[aws]==0.1.0\n")
    return house


def test_the_lifecycle_config_leaves_lake_ready_for_the_aws_profile(
    studio: Platform, aws: str, tmp_path: Path
) -> None:
    """Run the rendered script as Studio would (bash, the user's home), with S3 in moto
    server: it installs from the scripts bucket, registers the kernel, and `lake --profile
    aws status` then works from a folder with no lake.toml and no other setup."""
    out = studio.outputs
    s3 = client("s3")
    for zone in ("raw", "processed", "curated", "scripts", "query_results"):
        s3.create_bucket(Bucket=out[f"{zone}_bucket"])
    s3.upload_file(
        str(_probe_wheelhouse(tmp_path)), out["scripts_bucket"], "jobs/lib/lakelib-0.1.0-emr7.zip"
    )
    s3.upload_file(str(REPO / "lake.toml"), out["scripts_bucket"], "config/lake.toml")
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        s3.upload_file(str(notebook), out["scripts_bucket"], f"jobs/notebooks/{notebook.name}")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        # python3 is a CPython 3.11 with boto3, as on a SageMaker Distribution 2.x image.
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "AWS_ENDPOINT_URL": aws,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1",
    }
    script = tmp_path / "on-start.sh"
    script.write_text(_script(studio))
    run = subprocess.run(
        ["bash", str(script)], env=env, cwd=home, capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr
    venv = home / ".lakelib" / "venv"
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import lakelib_studio_probe"], capture_output=True
    )
    assert probe.returncode == 0, probe.stderr
    kernel = json.loads((home / ".local/share/jupyter/kernels/lakelib/kernel.json").read_text())
    assert kernel["argv"][0] == str(venv / "bin" / "python")
    assert kernel["display_name"] == "lakelib (aws)"
    assert kernel["env"]["LAKE_PROFILE"] == "aws"
    assert kernel["env"]["LAKE_CONFIG"] == out["lake_config_uri"]
    outputs = json.loads(Path(kernel["env"]["LAKE_STACK_OUTPUTS"]).read_text())
    assert outputs["scripts_bucket"] == out["scripts_bucket"]
    # The notebooks, opened with the lakelib kernel; a user's change survives a restart.
    notebooks = home / "lakelib-notebooks"
    assert sorted(p.name for p in notebooks.iterdir()) == [
        "01_explore.ipynb",
        "02_train.ipynb",
        "03_deploy.ipynb",
        "04_report.ipynb",
    ]
    explore = json.loads((notebooks / "01_explore.ipynb").read_text())
    assert explore["metadata"]["kernelspec"]["name"] == "lakelib"
    (notebooks / "01_explore.ipynb").write_text("{}")
    # A second start keeps the installed venv (the marker names the wheelhouse).
    again = subprocess.run(
        ["bash", str(script)], env=env, cwd=home, capture_output=True, text=True, timeout=60
    )
    assert (
        again.returncode == 0
        and (bashrc := (home / ".bashrc").read_text()).count(".lakelib/env.sh") == 1
    ), bashrc
    assert (notebooks / "01_explore.ipynb").read_text() == "{}"
    # A new wheelhouse (its marker is gone) is installed over the old venv at the next start.
    (marker,) = venv.glob(".installed-*")
    marker.unlink()
    upgrade = subprocess.run(
        ["bash", str(script)], env=env, cwd=home, capture_output=True, text=True, timeout=240
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert marker.is_file()
    # A terminal in Studio: ~/.bashrc sources the names, then the real `lake` (this venv's).
    lake = Path(sys.executable).parent / "lake"
    status = subprocess.run(
        [
            "bash",
            "-c",
            f'. "$HOME/.bashrc" && cd "$(mktemp -d)" && {lake} --profile aws status --format json',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["profile"] == "aws"
    assert report["config"] == out["lake_config_uri"]


def test_studio_settings_defaults_and_refusals() -> None:
    from test_pulumi_settings import _load

    off = _load()
    assert off.studio.enabled is False
    on = _load(
        sagemakerStudio={"enabled": True, "userProfile": "bo", "instanceType": "ml.m5.large"}
    )
    assert (on.studio.user_profile, on.studio.instance_type) == ("bo", "ml.m5.large")
    with pytest.raises(PlatformConfigError, match="use one"):
        _load(sagemakerStudio={"enabled": True}, mlMode="domain")
    with pytest.raises(PlatformConfigError, match="unknown keys"):
        _load(sagemakerStudio={"enabled": True, "userprofile": "bo"})


def test_space_image_follows_stack_config_else_the_regions_distribution() -> None:
    from lake_platform.studio import space_image

    assert space_image("eu-west-1") == (
        "arn:aws:sagemaker:eu-west-1:819792524951:image/sagemaker-distribution-cpu",
        "2",
    )
    assert space_image("eu-west-1", alias="2.14.11")[1] == "2.14.11"
    mine = "arn:aws:sagemaker:eu-west-1:111122223333:image/lakelib"
    assert space_image("eu-west-1", mine) == (mine, "")  # no alias forced on another image
    assert space_image("xx-nowhere-1") == ("", "")
