"""Run the Pulumi program under Pulumi's mocks and collect what it declares.

No Pulumi CLI, no provider plugin, no AWS: ``pulumi.runtime.set_mocks`` replaces the engine,
and :class:`RecordingMocks` answers every resource registration with its inputs plus the
few computed outputs (ARNs, ids) other resources read. Mock inputs arrive camelCase with
integers as floats, as FACTS.md notes.
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime

REPO = Path(__file__).resolve().parents[2]
PROGRAM = REPO / "infra" / "pulumi"
PROJECT = "lakelib-platform"
STACK = "test"
ACCOUNT = "123456789012"
REGION = "us-east-1"
DR_REGION = "us-west-2"

if str(PROGRAM) not in sys.path:
    # What `pulumi up` does too: the program folder is first on the import path.
    sys.path.insert(0, str(PROGRAM))

from lake_platform.policies import ResourceRecord  # noqa: E402


def _service(token: str) -> str:
    """``aws:s3/bucket:Bucket`` -> ``s3``."""
    module = token.split(":")[1].split("/")[0]
    return {"cloudwatch": "cloudwatch", "lambda": "lambda"}.get(module, module)


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that remember every resource and return plausible computed outputs."""

    def __init__(self) -> None:
        self.records: list[ResourceRecord] = []
        self.imports: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.records.append(ResourceRecord(args.typ, args.name, inputs))
        if args.resource_id:
            self.imports[args.name] = args.resource_id
        typ, name = args.typ, args.name
        physical = inputs.get("name") or name
        state: dict[str, Any] = {**inputs}
        state.setdefault("name", physical)
        region = inputs.get("region") or REGION
        resource_id = args.resource_id or f"{name}-id"
        arn = f"arn:aws:{_service(typ)}:{region}:{ACCOUNT}:{typ.split(':')[-1].lower()}/{physical}"
        if typ == "aws:s3/bucket:Bucket":
            resource_id = inputs["bucket"]
            arn = f"arn:aws:s3:::{resource_id}"
        elif typ == "aws:iam/role:Role":
            arn = f"arn:aws:iam::{ACCOUNT}:role/{physical}"
        elif typ == "aws:iam/instanceProfile:InstanceProfile":
            arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/{physical}"
        elif typ == "aws:kms/key:Key":
            resource_id = f"key-{name}"
            arn = f"arn:aws:kms:{region}:{ACCOUNT}:key/{resource_id}"
            state["keyId"] = resource_id
        elif typ == "aws:sns/topic:Topic":
            arn = f"arn:aws:sns:{region}:{ACCOUNT}:{physical}"
            resource_id = arn
        elif typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{physical}"
            state["invokeArn"] = f"arn:aws:apigateway:{region}:lambda:path/functions/{arn}"
        elif typ == "aws:apigatewayv2/api:Api":
            resource_id = "api123"
            state["executionArn"] = f"arn:aws:execute-api:{region}:{ACCOUNT}:{resource_id}"
            state["apiEndpoint"] = f"https://{resource_id}.execute-api.{region}.amazonaws.com"
        elif typ in {"aws:glue/job:Job", "aws:glue/crawler:Crawler", "aws:glue/workflow:Workflow"}:
            resource_id = physical
        elif typ == "aws:emr/cluster:Cluster":
            resource_id = "j-MOCKCLUSTER"
        elif typ == "aws:athena/workgroup:Workgroup":
            resource_id = physical
        state["arn"] = arn
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "AIDTEST",
                "id": ACCOUNT,
            }
        if args.token == "aws:index/getRegion:getRegion":
            return {
                "name": REGION,
                "region": REGION,
                "id": REGION,
                "endpoint": "",
                "description": "",
            }
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = [f"{REGION}{z}" for z in "abc"]
            return {"names": zones, "zoneIds": [f"use1-az{i}" for i in range(3)], "id": REGION}
        return {}


@dataclass
class Platform:
    """What one run of the program declared: resources (type, name, inputs) and stack outputs."""

    records: list[ResourceRecord]
    outputs: dict[str, Any]
    # Logical name -> id of resources adopted with the `import_` option.
    imports: dict[str, str] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[ResourceRecord]:
        return [r for r in self.records if r.type == typ]

    def one(self, typ: str, name: str) -> ResourceRecord:
        found = [r for r in self.records if r.type == typ and r.name == name]
        assert len(found) == 1, f"expected one {typ} named {name}, found {len(found)}"
        return found[0]

    def for_bucket(self, typ: str, bucket: str) -> list[ResourceRecord]:
        """The configuration resources of type ``typ`` attached to a bucket name."""
        return [r for r in self.of_type(typ) if r.inputs.get("bucket") == bucket]

    def policy(self, record: ResourceRecord, key: str = "policy") -> dict[str, Any]:
        return json.loads(record.inputs[key])


# What `build_artifacts.py` writes into build/wheelhouse (contents do not matter to Pulumi).
WHEELHOUSE_FILES = (
    "lakelib-0.1.0-py3-none-any.whl",
    "lakelib-0.1.0-glue5.gluewheels.zip",
    "lakelib-0.1.0-emr7.zip",
)


def lambda_bundle(folder: Path, pins: dict[str, str] | None = None, tag: str = "") -> Path:
    """A `pip install --target` folder as the build step leaves it: one dist-info per pin.

    Compiled distributions (orjson, ijson) get a wheel tag for the Lambda's Python and
    machine unless ``tag`` says otherwise (e.g. a macOS arm64 build).
    """
    from lake_platform.deps import LAMBDA_PINS, read_pins

    for name, version in (pins or read_pins(LAMBDA_PINS)).items():
        package = folder / name.replace("-", "_")
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("")
        info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        compiled = name in {"orjson", "ijson"}
        wheel_tag = (tag or "cp312-cp312-manylinux_2_17_x86_64") if compiled else "py3-none-any"
        (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nTag: {wheel_tag}\n")
    return folder


def stack_config(tmp: Path) -> dict[str, Any]:
    """Stack config for the test stack: every optional layer on, a job and a wheel present."""
    jobs = tmp / "jobs"
    jobs.mkdir()
    (jobs / "sales_clean.py").write_text("print('etl')\n")
    (jobs / "curate.py").write_text("print('curate')\n")
    (jobs / "pipeline_stage.py").write_text("print('stage')\n")
    shutil.copy(REPO / "jobs" / "emr_bootstrap.sh", jobs / "emr_bootstrap.sh")
    wheelhouse = tmp / "wheelhouse"
    wheelhouse.mkdir()
    for name in WHEELHOUSE_FILES:
        (wheelhouse / name).write_bytes(b"PK")
    lambda_bundle(tmp / "lambda-deps")
    state_machine = tmp / "state_machine.json"
    state_machine.write_text(
        json.dumps(
            {
                "StartAt": "Ingest",
                "States": {
                    "Ingest": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {
                            "FunctionName": "${ingest_function_arn}",
                            "Payload": {"run_id.$": "$$.Execution.Id", "note": "${unknown}"},
                        },
                        "End": True,
                    }
                },
            }
        )
    )
    return {
        "aws:region": REGION,
        "glueJobs": [
            "sales_clean",
            {"name": "curate", "maxWorkers": 6},
            "missing_job",
        ],
        "jobsDir": str(jobs),
        "wheelhouse": str(wheelhouse),
        "stateMachineFile": str(state_machine),
        "emr": {"enabled": True},
        "ingest": {
            "sourceApiEndpoint": "https://api.example.com/sales",
            "webhook": True,
            "dependenciesDir": str(tmp / "lambda-deps"),
        },
        "replication": {"region": DR_REGION, "zones": ["raw", "processed"]},
        "reporting": {
            "enabled": True,
            "principalArn": f"arn:aws:quicksight:{REGION}:{ACCOUNT}:user/default/analyst",
        },
        "monitoring": {"alertEmails": ["data-team@example.com"]},
        "analystPrincipals": [f"arn:aws:iam::{ACCOUNT}:role/DataAnalysts"],
    }


def declare(build: Any, config: dict[str, Any] | None = None) -> tuple[RecordingMocks, dict]:
    """Run ``build`` as a Pulumi program under fresh mocks; return the mocks and stack outputs."""
    from pulumi.runtime import settings as runtime_settings

    # A fresh root stack per run, or exports of an earlier run would leak into this one.
    runtime_settings.ROOT.set(None)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False)
    pulumi.runtime.set_all_config(
        {
            (key if ":" in key else f"{PROJECT}:{key}"): (
                value if isinstance(value, str) else json.dumps(value)
            )
            for key, value in (config or {"aws:region": REGION}).items()
        }
    )
    outputs: dict[str, Any] = {}

    def program() -> Any:
        build()
        stack = pulumi.runtime.get_root_resource()
        return pulumi.Output.from_input(stack.outputs).apply(outputs.update)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pulumi.runtime.test(program)()
    return mocks, outputs


def run_program(config: dict[str, Any]) -> Platform:
    """Execute ``__main__.py`` under mocks with this stack config; return what it declared."""
    mocks, outputs = declare(
        lambda: runpy.run_path(str(PROGRAM / "__main__.py"), run_name="__main__"), config
    )
    return Platform(mocks.records, outputs, dict(mocks.imports))
