"""lakelib's SageMaker requests on the aws profile pass the SageMaker role's IAM conditions.

The role (security.py) allows each create call only with the stack's subnets, security group,
network isolation and volume key; lakelib (ml/_sagemaker.py) builds the requests from the stack
outputs. Neither moto nor the deploy rehearsal evaluates IAM conditions, so this test does, for
the operators and keys the role uses, with the condition values SageMaker derives from each
request (Service Authorization Reference: ``sagemaker:VpcSubnets`` is the request's VPC
subnets, ``sagemaker:VolumeKmsKey`` its volume key, ...).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pulumi_harness import Platform

from lakelib.ml._sagemaker import (
    JobNetwork,
    endpoint_config_request,
    model_request,
    processing_job_request,
    training_job_request,
    transform_job_request,
)


def _get(request: Mapping[str, Any], *path: str) -> Any:
    value: Any = request
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def context(action: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """The SageMaker condition keys a create request carries (absent keys are missing)."""
    if action == "sagemaker:CreateProcessingJob":
        vpc = _get(request, "NetworkConfig", "VpcConfig") or {}
        isolation = _get(request, "NetworkConfig", "EnableNetworkIsolation")
        volume = _get(request, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId")
    else:
        vpc = request.get("VpcConfig") or {}
        isolation = request.get("EnableNetworkIsolation")
        volume = {
            "sagemaker:CreateTrainingJob": _get(request, "ResourceConfig", "VolumeKmsKeyId"),
            "sagemaker:CreateTransformJob": _get(request, "TransformResources", "VolumeKmsKeyId"),
            "sagemaker:CreateEndpointConfig": request.get("KmsKeyId"),
        }.get(action)
    keys = {
        "sagemaker:VpcSubnets": vpc.get("Subnets"),
        "sagemaker:VpcSecurityGroupIds": vpc.get("SecurityGroupIds"),
        "sagemaker:NetworkIsolation": isolation,
        "sagemaker:VolumeKmsKey": volume,
    }
    return {k: v for k, v in keys.items() if v is not None}


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def condition_holds(block: Mapping[str, Mapping[str, Any]], ctx: Mapping[str, Any]) -> bool:
    """IAM's evaluation of the operators the role uses; any other operator fails the test."""
    for operator, tests in block.items():
        for key, wanted in tests.items():
            present = key in ctx
            if operator == "Null":
                ok = (str(wanted).lower() == "true") != present
            elif operator == "Bool":
                ok = present and str(ctx[key]).lower() == str(wanted).lower()
            elif operator == "StringEquals":
                ok = present and all(v in _values(wanted) for v in _values(ctx[key]))
            elif operator == "ForAllValues:StringEquals":
                ok = not present or all(v in _values(wanted) for v in _values(ctx[key]))
            else:
                raise AssertionError(f"operator {operator} not evaluated here")
            if not ok:
                return False
    return True


def allowed(statements: list[dict[str, Any]], action: str, request: Mapping[str, Any]) -> bool:
    ctx = context(action, request)
    return any(
        st["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in st["Action"])
        and condition_holds(st.get("Condition", {}), ctx)
        for st in statements
    )


@pytest.fixture(scope="module")
def role(platform: Platform) -> list[dict[str, Any]]:
    (policy,) = [
        r
        for r in platform.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name == "security-sagemaker"
    ]
    return platform.policy(policy)["Statement"]


@pytest.fixture(scope="module")
def network(platform: Platform) -> JobNetwork:
    out = platform.outputs
    return JobNetwork(
        subnets=tuple(out["sagemaker_subnets"].split(",")),
        security_groups=(out["sagemaker_security_group"],),
        kms_key_arn=out["sagemaker_kms_key_arn"],
    )


ROLE = "arn:aws:iam::123456789012:role/lake-test-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
S3 = "s3://lake-test-scripts-123456789012/jobs/ml"

REQUESTS: dict[str, Callable[[JobNetwork | None], dict[str, Any]]] = {
    "sagemaker:CreateTrainingJob": lambda net: training_job_request(
        job_name="churn-1",
        role_arn=ROLE,
        image_uri=IMAGE,
        source_uri=f"{S3}/src.tar.gz",
        train_uri=f"{S3}/train/",
        test_uri=f"{S3}/test/",
        output_uri=f"{S3}/out/",
        region="us-east-1",
        network=net,
    ),
    "sagemaker:CreateModel": lambda net: model_request(
        model_name="churn-1",
        role_arn=ROLE,
        image_uri=IMAGE,
        model_data_url=f"{S3}/out/model.tar.gz",
        source_uri=f"{S3}/src.tar.gz",
        region="us-east-1",
        network=net,
    ),
    "sagemaker:CreateEndpointConfig": lambda net: endpoint_config_request(
        config_name="churn-1", model_name="churn-1", serverless=False, network=net
    ),
    "sagemaker:CreateTransformJob": lambda net: transform_job_request(
        job_name="churn-1",
        model_name="churn-1",
        input_uri=f"{S3}/features/",
        output_uri=f"{S3}/scores/",
        network=net,
    ),
    "sagemaker:CreateProcessingJob": lambda net: processing_job_request(
        job_name="report-1",
        role_arn=ROLE,
        image_uri=IMAGE,
        entrypoint=["python3", "stage.py"],
        network=net,
    ),
}


@pytest.mark.parametrize("action", sorted(REQUESTS))
def test_lakelibs_request_on_the_aws_profile_is_allowed(
    action: str, role: list[dict[str, Any]], network: JobNetwork
) -> None:
    assert allowed(role, action, REQUESTS[action](network))


@pytest.mark.parametrize("action", sorted(REQUESTS))
def test_the_same_request_without_the_stacks_network_and_key_is_refused(
    action: str, role: list[dict[str, Any]]
) -> None:
    # What lakelib sent before (and still sends on the local profile's shapes).
    assert not allowed(role, action, REQUESTS[action](None))


@pytest.mark.parametrize(
    ("action", "change"),
    [
        ("sagemaker:CreateTrainingJob", {"subnets": ("subnet-elsewhere",)}),
        ("sagemaker:CreateModel", {"security_groups": ("sg-open",)}),
        ("sagemaker:CreateProcessingJob", {"kms_key_arn": "arn:aws:kms:us-east-1:1:key/other"}),
    ],
)
def test_another_subnet_group_or_key_is_refused(
    action: str, change: dict[str, Any], role: list[dict[str, Any]], network: JobNetwork
) -> None:
    other = JobNetwork(**{**network.__dict__, **change})
    assert not allowed(role, action, REQUESTS[action](other))


def test_training_without_network_isolation_is_refused(
    role: list[dict[str, Any]], network: JobNetwork
) -> None:
    request = REQUESTS["sagemaker:CreateTrainingJob"](network)
    request["EnableNetworkIsolation"] = False
    assert not allowed(role, "sagemaker:CreateTrainingJob", request)
