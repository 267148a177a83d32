"""The deploy rehearsal: the platform Pulumi declares, stood up in moto server, run for days.

What is real, what the harness plays, and why
---------------------------------------------
1. **Render.** ``infra/pulumi/__main__.py`` runs under Pulumi's own mocks (the INFRA
   harness, ``tests/infra/pulumi_harness.py``) with the ``dev`` stack config of
   ``infra/pulumi/Pulumi.dev.yaml``. Four values are replaced: the state machine
   file (exported now from :func:`lakelib.pipeline.daily_pipeline`, as
   ``lake run --export-step-functions`` writes it), the wheelhouse (zips shaped like
   ``build_artifacts.py``'s: nothing installs them here), the source API endpoint (a sample
   API on 127.0.0.1), and the Lambda's dependencies: ``build_artifacts.py`` downloads cp312
   wheels from the package index, which a test may not reach, so the function gets the
   pinned distributions (``deps/lambda.txt``, versions checked) copied from this
   environment as a layer instead of a bundled folder.
2. **Stand up.** Every resource on the daily run's path is created in a moto server on
   127.0.0.1 from its rendered inputs: buckets with encryption, versioning, lifecycle, public
   access block and policy; KMS keys (moto's key ids replace the mock ids everywhere); IAM
   roles with exactly their declared inline policies; the Glue database, crawlers and jobs
   with their default arguments; the SNS topic; Athena workgroups; the Lambda function with
   the code archive Pulumi packages; the state machine with its rendered definition. Each
   ``BucketObjectv2`` is uploaded from its ``source``, and nothing else is.
   *Not applied:* bucket-policy statements with a ``Condition``: moto evaluates a condition
   it cannot resolve as a deny, whatever the statement's effect. That drops the
   ``DenyInsecureTransport`` statement of each bucket (moto serves plain http on 127.0.0.1:
   every request would be 403; a test asserts every rendered bucket policy carries it),
   the curated bucket's deny for the analyst role (it would deny every role) and the log
   services' grants on the logs bucket (off the daily path). Resources off the daily path
   (network, CloudTrail, alarms, dashboard, replicas, QuickSight, EMR) are left to the infra
   tier's assertions.
3. **Roles under enforcement.** After stand-up moto's IAM enforcement is switched on
   (``/moto-api/reset-auth``, the runtime form of ``INITIAL_NO_AUTH_ACTION_COUNT``). Each
   played service calls AWS with an ``sts:AssumeRole`` session of the role Pulumi gives it.
   moto evaluates S3 requests against the role's policies with the object's ARN; for every
   other service moto evaluates against the resource ``*`` (so a scoped statement never
   matches; FACTS.md: "for Glue it denied a read the policy allowed"). The harness therefore
   replaces moto's non-S3 check with one that derives the resource ARNs a request touches
   (Glue catalog/database/table, job, crawler; SNS topic; Lambda function; Athena
   workgroup) and evaluates the role's statements against them. Conditions are not
   evaluated (moto cannot either); actions whose resource the harness does not derive are
   checked by action only. The state machine's own calls run under its role too.
4. **The state machine** runs in moto's Step Functions interpreter (moto-api config
   ``execute_state_machine``). ``Wait`` states and ``Retry`` intervals take no time (the
   attempts still happen); the execution input is ``{"run_date": ...}``. The harness plays the
   services the interpreter cannot run:

   - ``lambda:invoke`` -> moto would need Docker. The harness runs the Lambda's handler in
     a subprocess whose import path is the code archive Pulumi packages plus what the
     Lambda runtime provides (boto3 and its dependencies), with exactly the function's
     environment variables and the role's credentials.
   - ``glue:startJobRun.sync`` -> moto only flips run states. The harness runs the job's
     script, downloaded from ``ScriptLocation`` under the job's role, with exactly the
     run's arguments (defaults + state machine's) as Glue passes them, in a working folder
     of its own, then marks the run SUCCEEDED or FAILED (with the job's error) for the
     interpreter's ``.sync`` poll. The job runs in this process on the test run's one
     SparkSession; lakelib is imported from the repo (the wheel is not installed).
     **Spark on s3a:// is not available**: Spark's ``s3://`` filesystem is Hadoop's
     ``ViewFileSystemOverloadScheme`` over a local mirror of each bucket, filled before the
     run (under the role: what it cannot read is not there) and written back after it
     (under the role: a write it may not make fails the run). boto3 calls of the job go to
     moto directly.
   - SageMaker (``createTrainingJob.sync``, ``createProcessingJob.sync``, ``createModel``,
     ``createTransformJob.sync``) -> moto's interpreter has no SageMaker integration (it
     refuses the definition). The harness adds one (create, then poll ``Describe*``) and
     plays each container in SageMaker's layout, a working folder standing for ``/opt/ml``,
     with its inputs fetched under the job's role:

     * training, as the scikit-learn container in script mode: the code from the ``code``
       channel (network isolation: an isolated job that names an S3 code location fails),
       each channel in ``input/data/<channel>/``, ``SM_*`` variables, the entry point with the
       hyperparameters as arguments, ``model/`` packed to ``model.tar.gz`` where SageMaker
       puts it;
     * processing: each input under ``processing/input/<name>/``, the entry point
       (``python3 /opt/ml/processing/input/code/pipeline_stage.py``) with its arguments and
       the request's environment, in this process like the Glue jobs (lakelib is imported
       from the repository: the install from the wheelhouse is not exercised, the
       wheelhouse input is checked to carry lakelib's wheel); papermill's kernels are real
       subprocesses;
     * batch transform, as the serving container: the model archive in ``model/``, the code
       from its ``code/`` folder, ``input_fn -> predict_fn -> output_fn`` over MultiRecord
       batches of each input file (a subprocess), ``DataProcessing`` filters and join, the
       ``.out`` files uploaded.
   - ``aws-sdk:s3:getObject`` -> moto returns the body as a stream; Step Functions returns
     text (``States.StringToJson($.Body)`` needs it): the harness converts it.
   - Athena -> moto returns no rows. The harness answers each query with lakelib's local
     (DuckDB) engine over what the calling role may read: the Glue catalog copied to a local
     catalog, the objects mirrored, results written where Athena writes them.
   - CloudWatch Logs -> what each played run prints is its log; bare JSON lines in the
     embedded metric format become CloudWatch metrics, as the logs service does (a line with
     a log prefix stays text), so the dashboard's and alarms' metrics can be checked.
   - crawlers: moto's crawler goes READY at once and creates no tables (not played).
   - moto 5.2.5 bugs: every ``.sync`` integration without ``.waitForTaskToken`` fails on
     ``None.interrupt_all()`` (the harness runs moto's own function with that call guarded);
     its ASL grammar takes a ``Parameters`` key ``RoleArn`` for the ``Credentials`` keyword
     and drops it (the SageMaker integration binds it from the definition).
   - The lake's history: the user backfills 51 days of sales (and the reference snapshots)
     with ``lake ingest`` on the aws profile; the state machine then runs the last two days,
     the first of which trains the churn model (53 days are what its time split needs).
5. What this cannot prove: Spark's s3a:// connector, the real Glue/EMR/Lambda/SageMaker images
   and their installed packages, Pulumi's engine (providers, diffs, ordering), IAM conditions,
   crawler schema inference, Athena's SQL engine itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import re
import runpy
import shutil
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA_TESTS = REPO / "tests" / "infra"
if str(INFRA_TESTS) not in sys.path:
    sys.path.insert(0, str(INFRA_TESTS))

from pulumi_harness import ACCOUNT, REGION, Platform, run_program  # noqa: E402

PROJECT_KEY = "lakelib-platform"
DEV_STACK = REPO / "infra" / "pulumi" / "Pulumi.dev.yaml"
TLS_SID = "DenyInsecureTransport"

# The packages the AWS Lambda Python runtime provides next to the function's code.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3")

log = logging.getLogger("rehearsal")


class RehearsalError(AssertionError):
    """The rehearsal found the platform would not work; the message names stage and cause."""


# -- render ------------------------------------------------------------------------------


def build_wheelhouse(folder: Path) -> Path:
    """A wheelhouse shaped like ``build_artifacts.py``'s (what Pulumi uploads; nothing
    installs it here: building the real one needs the package index)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "lakelib-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((REPO / "lakelib").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(REPO).as_posix())
    for name in ("lakelib-0.1.0-glue5.gluewheels.zip", "lakelib-0.1.0-emr7.zip"):
        with zipfile.ZipFile(folder / name, "w") as archive:
            archive.write(wheel, wheel.name)
    return folder


LAMBDA_PINS = REPO / "infra" / "pulumi" / "deps" / "lambda.txt"
LAMBDA_LAYER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:rehearsal-lambda-deps:1"


def lambda_layer(folder: Path) -> Path:
    """The pinned Lambda dependencies (``deps/lambda.txt``) as a layer's ``python/`` folder.

    The dev stack bundles cp312 wheels that ``build_artifacts.py`` downloads; offline, the
    rehearsal copies the same distributions, at the pinned versions, from this environment
    (and refuses to run if a version differs), and gives them to the function as a layer.
    """
    from importlib import metadata

    target = folder / "python"
    if target.is_dir():
        return folder
    target.mkdir(parents=True)
    for line in LAMBDA_PINS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        dist = metadata.distribution(name)
        if dist.version != version:
            raise RehearsalError(f"{name} {dist.version} is installed, {version} is pinned")
        root = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            source = root / file
            if ".." in file.parts or not source.is_file() or "__pycache__" in file.parts:
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    return folder


def dev_stack_config(
    tmp: Path, api_url: str, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``Pulumi.dev.yaml`` with this run's state machine, wheelhouse, source and layer."""
    import yaml

    from lakelib.pipeline import daily_pipeline
    from lakelib.pipeline._stepfunctions import export_state_machine

    config: dict[str, Any] = dict(yaml.safe_load(DEV_STACK.read_text())["config"])
    state_machine = tmp / "state_machine.json"
    state_machine.write_text(export_state_machine(daily_pipeline()))
    config[f"{PROJECT_KEY}:stateMachineFile"] = str(state_machine)
    config[f"{PROJECT_KEY}:wheelhouse"] = str(build_wheelhouse(tmp / "wheelhouse"))
    ingest = dict(config.get(f"{PROJECT_KEY}:ingest") or {})
    ingest["sourceApiEndpoint"] = f"{api_url}/sales"
    ingest["dependenciesDir"] = ""
    ingest["layers"] = [LAMBDA_LAYER_ARN]
    config[f"{PROJECT_KEY}:ingest"] = ingest
    for key, value in (overrides or {}).items():
        config[key if ":" in key else f"{PROJECT_KEY}:{key}"] = value
    return config


def render(tmp: Path, api_url: str, overrides: Mapping[str, Any] | None = None) -> Platform:
    """Run the Pulumi program under mocks with the dev stack config; what it declares."""
    return run_program(dev_stack_config(tmp, api_url, overrides))


# -- small helpers -----------------------------------------------------------------------


def _moto_api(endpoint: str, path: str, body: Any) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    # A form content type (urllib's default) would leave werkzeug's request.data empty.
    request = urllib.request.Request(
        f"{endpoint}{path}", data=data, method="POST", headers={"Content-Type": "text/plain"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(request, timeout=10).close()


_SPECIAL_KEYS = {
    "id": "ID",
    "sseAlgorithm": "SSEAlgorithm",
    "kmsMasterKeyId": "KMSMasterKeyID",
}


def _pascal(value: Any) -> Any:
    """Mock inputs (camelCase, numbers as floats) -> API request shapes (PascalCase, ints)."""
    if isinstance(value, Mapping):
        return {_SPECIAL_KEYS.get(k, k[:1].upper() + k[1:]): _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Credentials:
    """One principal's keys (an IAM user's, or an assumed-role session's)."""

    key: str
    secret: str
    token: str | None = None
    name: str = ""

    def env(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret}
        if self.token:
            env["AWS_SESSION_TOKEN"] = self.token
        return env


@dataclass
class Play:
    """One service run the harness played: which stage, as whom, and how it ended."""

    service: str
    name: str
    role: str
    ok: bool = True
    error: str = ""
    output: str = ""
    log: str = ""  # what the run printed: CloudWatch Logs would hold it
    arguments: dict[str, str] = field(default_factory=dict)
    denied: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


# -- non-S3 IAM evaluation ---------------------------------------------------------------


def _matches(pattern: str, value: str) -> bool:
    import re

    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, value, re.IGNORECASE) is not None


def _listed(element: Any) -> list[str]:
    return [element] if isinstance(element, str) else list(element or [])


def statement_allows(statement: Mapping[str, Any], action: str, resource: str | None) -> bool:
    """Whether a statement's Action and Resource cover ``action`` on ``resource``.

    ``resource=None`` checks the action only. Conditions are not evaluated.
    """
    if "NotAction" in statement:
        if any(_matches(p, action) for p in _listed(statement["NotAction"])):
            return False
    elif not any(_matches(p, action) for p in _listed(statement.get("Action"))):
        return False
    if resource is None:
        return True
    if "NotResource" in statement:
        return not any(_matches(p, resource) for p in _listed(statement["NotResource"]))
    return any(_matches(p, resource) for p in _listed(statement.get("Resource", "*")))


def policies_allow(documents: list[Mapping[str, Any]], action: str, resource: str | None) -> bool:
    statements = [s for doc in documents for s in _listed_statements(doc)]
    if any(
        s.get("Effect") == "Deny" and statement_allows(s, action, resource or "*")
        for s in statements
    ):
        return False
    return any(
        s.get("Effect") == "Allow" and statement_allows(s, action, resource) for s in statements
    )


def _listed_statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statement = doc.get("Statement", [])
    return [statement] if isinstance(statement, Mapping) else list(statement)


_GLUE_TABLE_ACTIONS = {
    "createtable": ("DatabaseName", ("TableInput", "Name")),
    "updatetable": ("DatabaseName", ("TableInput", "Name")),
    "gettable": ("DatabaseName", "Name"),
    "deletetable": ("DatabaseName", "Name"),
    "gettables": ("DatabaseName", None),
    "batchcreatepartition": ("DatabaseName", "TableName"),
    "batchdeletepartition": ("DatabaseName", "TableName"),
    "batchgetpartition": ("DatabaseName", "TableName"),
    "batchupdatepartition": ("DatabaseName", "TableName"),
    "getpartitions": ("DatabaseName", "TableName"),
    "getpartition": ("DatabaseName", "TableName"),
    "createpartition": ("DatabaseName", "TableName"),
    "updatepartition": ("DatabaseName", "TableName"),
    "deletepartition": ("DatabaseName", "TableName"),
}


def request_resources(
    service: str, operation: str, params: Mapping[str, Any], path: str, region: str, account: str
) -> list[str] | None:
    """The ARNs an API request touches (all must be allowed); ``None`` = not derived."""
    op = operation.lower()
    if service == "glue":
        base = f"arn:aws:glue:{region}:{account}"
        if op in _GLUE_TABLE_ACTIONS:
            db_key, table_key = _GLUE_TABLE_ACTIONS[op]
            database = str(params.get(db_key, ""))
            if isinstance(table_key, tuple):
                table = str((params.get(table_key[0]) or {}).get(table_key[1], ""))
            else:
                table = str(params.get(table_key, "*")) if table_key else "*"
            return [
                f"{base}:catalog",
                f"{base}:database/{database}",
                f"{base}:table/{database}/{table}",
            ]
        if op in {"getdatabase", "createdatabase", "updatedatabase"}:
            name = params.get("Name") or (params.get("DatabaseInput") or {}).get("Name", "")
            return [f"{base}:catalog", f"{base}:database/{name}"]
        if op in {"startjobrun", "getjobrun", "getjobruns", "batchstopjobrun", "getjob"}:
            return [f"{base}:job/{params.get('JobName', params.get('Name', ''))}"]
        if op in {"startcrawler", "getcrawler", "stopcrawler"}:
            return [f"{base}:crawler/{params.get('Name', '')}"]
        return None
    if service == "sns" and op == "publish":
        return [str(params.get("TopicArn") or params.get("TargetArn") or "")]
    if service == "lambda" and "/functions/" in path:
        name = path.split("/functions/", 1)[1].split("/", 1)[0]
        name = urllib.request.unquote(name)
        if not name.startswith("arn:"):
            name = f"arn:aws:lambda:{region}:{account}:function:{name}"
        return [name]
    if service == "athena" and params.get("WorkGroup"):
        return [f"arn:aws:athena:{region}:{account}:workgroup/{params['WorkGroup']}"]
    if service == "states" and params.get("stateMachineArn"):
        return [str(params["stateMachineArn"])]
    return None


MOTO_ACTION_ALIASES = {"lambda:Invoke": "lambda:InvokeFunction"}


@contextlib.contextmanager
def resource_aware_iam(denials: list[str]) -> Iterator[None]:
    """Replace moto's non-S3 permission check with one that knows the resources touched."""
    from moto.iam import access_control

    original = access_control.IAMRequest.check_action_permitted

    def check(self: Any, resource: str) -> None:
        # moto names some actions after its handler, not after IAM's action.
        action = MOTO_ACTION_ALIASES.get(self._action, self._action)
        if action == "sts:GetCallerIdentity":
            return
        service, _, operation = action.partition(":")
        params: dict[str, Any] = {}
        if self._body:
            try:
                loaded = json.loads(self._body)
                params = loaded if isinstance(loaded, dict) else {}
            except (ValueError, UnicodeDecodeError):
                params = {}
        if not params:
            params = {
                k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
                for k, v in dict(self._data or {}).items()
            }
        arns = request_resources(
            service, operation, params, self._path, self._region, self.account_id
        )
        documents = [
            access_control.IAMPolicy(p)._policy_json for p in self._access_key.collect_policies()
        ]
        for arn in arns or [None]:
            if not policies_allow(documents, action, arn):
                denials.append(f"{self._access_key.arn} may not {action} on {arn or '(any)'}")
                self._raise_access_denied()

    access_control.IAMRequest.check_action_permitted = check  # type: ignore[method-assign]
    try:
        yield
    finally:
        access_control.IAMRequest.check_action_permitted = original  # type: ignore[method-assign]


# -- stand-up ----------------------------------------------------------------------------

# Resource types stood up in moto (the daily run's path). Anything else is the infra tier's.
STOOD_UP = (
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:glue/catalogDatabase:CatalogDatabase",
    "aws:glue/crawler:Crawler",
    "aws:glue/job:Job",
    "aws:sns/topic:Topic",
    "aws:athena/workgroup:Workgroup",
    "aws:lambda/function:Function",
    "aws:sfn/stateMachine:StateMachine",
    "aws:s3/bucketObjectv2:BucketObjectv2",
)


def materialize(asset: Any, target: Path) -> None:
    """Write a Pulumi asset or archive (as the mocks see it) to ``target``."""
    import pulumi

    if isinstance(asset, pulumi.FileAsset):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(asset.path, target)
    elif isinstance(asset, pulumi.StringAsset):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(asset.text)
    elif isinstance(asset, pulumi.FileArchive):
        source = Path(asset.path)
        if source.is_dir():
            shutil.copytree(
                source,
                target,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                dirs_exist_ok=True,
            )
        else:
            with zipfile.ZipFile(source) as archive:
                archive.extractall(target)
    elif isinstance(asset, pulumi.AssetArchive):
        target.mkdir(parents=True, exist_ok=True)
        for name, part in asset.assets.items():
            materialize(part, target / name)
    else:
        raise TypeError(f"cannot materialize {type(asset).__name__}")


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class Stack:
    """The rendered platform, stood up in one moto server; clients as admin or as a role."""

    def __init__(self, platform: Platform, endpoint: str, workdir: Path) -> None:
        self.platform = platform
        self.endpoint = endpoint
        self.workdir = workdir
        self.outputs = platform.outputs
        self.admin: Credentials | None = None
        self.ids: dict[str, str] = {}  # mock id/ARN -> moto's
        self.uploaded: list[tuple[str, str]] = []
        self.tls_only: dict[str, bool] = {}
        self.unapplied_statements: list[str] = []
        self.lambda_code: dict[str, Path] = {}
        self.lambda_layers: dict[str, list[Path]] = {}
        self.not_stood_up: dict[str, int] = {}
        self._sessions: dict[str, Credentials] = {}
        self._clients: dict[tuple[str, Credentials | None], Any] = {}
        self._session: Any = None
        self.machine_arn = ""

    # clients ---------------------------------------------------------------------------

    def client(self, service: str, creds: Credentials | None = None) -> Any:
        creds = creds or self.admin
        cache_key = (service, creds)
        if cache_key not in self._clients:
            self._clients[cache_key] = self._new_client(service, creds)
        return self._clients[cache_key]

    def _new_client(self, service: str, creds: Credentials | None) -> Any:
        import boto3
        from botocore.config import Config

        if self._session is None:
            self._session = boto3.session.Session(region_name=REGION)
        kwargs: dict[str, Any] = {}
        if creds is not None:
            kwargs = {
                "aws_access_key_id": creds.key,
                "aws_secret_access_key": creds.secret,
                "aws_session_token": creds.token,
            }
        else:
            kwargs = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return self._session.client(
            service,
            endpoint_url=self.endpoint,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
            **kwargs,
        )

    def role_session(self, role_arn: str, session: str = "rehearsal") -> Credentials:
        """An ``sts:AssumeRole`` session of ``role_arn`` (cached per role)."""
        if role_arn not in self._sessions:
            answer = self.client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=session, DurationSeconds=3600
            )["Credentials"]
            self._sessions[role_arn] = Credentials(
                answer["AccessKeyId"],
                answer["SecretAccessKey"],
                answer["SessionToken"],
                role_arn.rsplit("/", 1)[-1],
            )
        return self._sessions[role_arn]

    def translate(self, value: Any) -> Any:
        """Replace the mocks' computed ids (KMS keys) with moto's, anywhere in ``value``."""
        if not self.ids:
            return value
        text = json.dumps(value)
        for mock, real in self.ids.items():
            text = text.replace(mock, real)
        return json.loads(text)

    # stand-up --------------------------------------------------------------------------

    def stand_up(self) -> None:
        # moto keeps executable state machines in another backend: choose it before creating.
        _moto_api(
            self.endpoint, "/moto-api/config", {"stepfunctions": {"execute_state_machine": True}}
        )
        iam = self.client("iam")
        iam.create_user(UserName="rehearsal-admin")
        iam.put_user_policy(
            UserName="rehearsal-admin",
            PolicyName="admin",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="rehearsal-admin")["AccessKey"]
        self.admin = Credentials(key["AccessKeyId"], key["SecretAccessKey"], name="rehearsal-admin")
        records = self.platform.records
        for typ in STOOD_UP:
            for record in [r for r in records if r.type == typ]:
                inputs = record.inputs
                # Replicas live in the DR region: off the daily path.
                if inputs.get("region") not in (None, REGION):
                    continue
                getattr(self, "_" + typ.rsplit(":", 1)[-1].lower())(record.name, inputs)
        for record in records:
            if record.type not in STOOD_UP and record.type.startswith("aws:"):
                self.not_stood_up[record.type] = self.not_stood_up.get(record.type, 0) + 1

    def _key(self, name: str, inputs: Mapping[str, Any]) -> None:
        kms = self.client("kms")
        meta = kms.create_key(
            Description=str(inputs.get("description", name)), Policy=inputs["policy"]
        )["KeyMetadata"]
        if inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        mock_id = f"key-{name}"
        self.ids[f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{mock_id}"] = meta["Arn"]
        self.ids[mock_id] = meta["KeyId"]

    def _bucket(self, name: str, inputs: Mapping[str, Any]) -> None:
        self.client("s3").create_bucket(Bucket=inputs["bucket"])

    def _bucketserversideencryptionconfiguration(
        self, name: str, inputs: Mapping[str, Any]
    ) -> None:
        inputs = self.translate(inputs)
        self.client("s3").put_bucket_encryption(
            Bucket=inputs["bucket"],
            ServerSideEncryptionConfiguration={"Rules": _pascal(inputs["rules"])},
        )

    def _bucketversioning(self, name: str, inputs: Mapping[str, Any]) -> None:
        self.client("s3").put_bucket_versioning(
            Bucket=inputs["bucket"],
            VersioningConfiguration=_pascal(inputs["versioningConfiguration"]),
        )

    def _bucketlifecycleconfiguration(self, name: str, inputs: Mapping[str, Any]) -> None:
        rules = _pascal(inputs["rules"])
        for rule in rules:
            if not rule.get("Filter"):
                rule["Filter"] = {"Prefix": ""}
        self.client("s3").put_bucket_lifecycle_configuration(
            Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules}
        )

    def _bucketpublicaccessblock(self, name: str, inputs: Mapping[str, Any]) -> None:
        config = {k: v for k, v in _pascal(dict(inputs)).items() if k != "Bucket"}
        self.client("s3").put_public_access_block(
            Bucket=inputs["bucket"], PublicAccessBlockConfiguration=config
        )

    def _bucketpolicy(self, name: str, inputs: Mapping[str, Any]) -> None:
        policy = self.translate(json.loads(inputs["policy"]))
        statements = _listed_statements(policy)
        self.tls_only[inputs["bucket"]] = any(s.get("Sid") == TLS_SID for s in statements)
        # moto turns any Condition it cannot resolve into a deny, whatever the Effect (and it
        # serves plain http, so TLS-only would refuse everything): such statements (TLS-only,
        # the analyst role's read-only deny, the log services' grants) are not applied.
        kept = [s for s in statements if not s.get("Condition")]
        self.unapplied_statements.extend(
            f"{inputs['bucket']}: {s.get('Sid')}" for s in statements if s.get("Condition")
        )
        if kept:
            self.client("s3").put_bucket_policy(
                Bucket=inputs["bucket"], Policy=json.dumps({**policy, "Statement": kept})
            )

    def _role(self, name: str, inputs: Mapping[str, Any]) -> None:
        self.client("iam").create_role(
            RoleName=inputs["name"], AssumeRolePolicyDocument=inputs["assumeRolePolicy"]
        )

    def _rolepolicy(self, name: str, inputs: Mapping[str, Any]) -> None:
        self.client("iam").put_role_policy(
            RoleName=inputs["role"],
            PolicyName=inputs["name"],
            PolicyDocument=json.dumps(self.translate(json.loads(inputs["policy"]))),
        )

    def _catalogdatabase(self, name: str, inputs: Mapping[str, Any]) -> None:
        self.client("glue").create_database(
            DatabaseInput={"Name": inputs["name"], "LocationUri": inputs.get("locationUri", "")}
        )

    def _crawler(self, name: str, inputs: Mapping[str, Any]) -> None:
        targets = [
            {"Path": t["path"], **({"Exclusions": t["exclusions"]} if t.get("exclusions") else {})}
            for t in inputs.get("s3Targets", [])
        ]
        extra: dict[str, Any] = {}
        if inputs.get("tablePrefix"):
            extra["TablePrefix"] = inputs["tablePrefix"]
        if inputs.get("configuration"):
            extra["Configuration"] = inputs["configuration"]
        self.client("glue").create_crawler(
            Name=inputs["name"],
            Role=inputs["role"],
            DatabaseName=inputs["databaseName"],
            Targets={"S3Targets": targets},
            SchemaChangePolicy=_pascal(inputs.get("schemaChangePolicy") or {}),
            **extra,
        )

    def _job(self, name: str, inputs: Mapping[str, Any]) -> None:
        self.client("glue").create_job(
            Name=inputs["name"],
            Role=inputs["roleArn"],
            Command=_pascal(inputs["command"]),
            DefaultArguments=dict(inputs.get("defaultArguments") or {}),
            GlueVersion=inputs.get("glueVersion", "5.0"),
            WorkerType=inputs.get("workerType", "G.1X"),
            NumberOfWorkers=int(inputs.get("numberOfWorkers", 2)),
            MaxRetries=int(inputs.get("maxRetries", 0)),
            Timeout=int(inputs.get("timeout", 120)),
            ExecutionProperty=_pascal(inputs.get("executionProperty") or {}),
        )

    def _topic(self, name: str, inputs: Mapping[str, Any]) -> None:
        inputs = self.translate(inputs)
        attributes = {}
        if inputs.get("kmsMasterKeyId"):
            attributes["KmsMasterKeyId"] = inputs["kmsMasterKeyId"]
        self.client("sns").create_topic(Name=inputs["name"], Attributes=attributes)

    def _workgroup(self, name: str, inputs: Mapping[str, Any]) -> None:
        athena = self.client("athena")
        config = (inputs.get("configuration") or {}).get("resultConfiguration") or {}
        # `primary` exists in every account (Pulumi adopts it).
        with contextlib.suppress(athena.exceptions.InvalidRequestException):
            athena.create_work_group(
                Name=inputs["name"],
                Configuration={
                    "ResultConfiguration": {"OutputLocation": config.get("outputLocation", "")}
                },
            )

    def _function(self, name: str, inputs: Mapping[str, Any]) -> None:
        code = self.workdir / "lambda-code" / inputs["name"]
        materialize(inputs["code"], code)
        self.lambda_code[inputs["name"]] = code
        self.lambda_layers[inputs["name"]] = [
            lambda_layer(self.workdir / "lambda-layer") / "python"
            for arn in inputs.get("layers") or []
            if arn == LAMBDA_LAYER_ARN
        ]
        variables = dict((inputs.get("environment") or {}).get("variables") or {})
        self.client("lambda").create_function(
            FunctionName=inputs["name"],
            Runtime=inputs["runtime"],
            Role=inputs["role"],
            Handler=inputs["handler"],
            Code={"ZipFile": zip_folder(code)},
            Environment={"Variables": self.translate(variables)},
            Timeout=int(inputs.get("timeout", 300)),
            MemorySize=int(inputs.get("memorySize", 512)),
        )

    def _statemachine(self, name: str, inputs: Mapping[str, Any]) -> None:
        definition = inputs["definition"]
        for mock, real in self.ids.items():
            definition = definition.replace(mock, real)
        self.machine_arn = self.client("stepfunctions").create_state_machine(
            name=inputs["name"], definition=definition, roleArn=inputs["roleArn"]
        )["stateMachineArn"]

    def _bucketobjectv2(self, name: str, inputs: Mapping[str, Any]) -> None:
        target = self.workdir / "uploads" / name
        materialize(inputs["source"], target)
        extra = {"ContentType": inputs["contentType"]} if inputs.get("contentType") else {}
        self.client("s3").put_object(
            Bucket=inputs["bucket"], Key=inputs["key"], Body=target.read_bytes(), **extra
        )
        self.uploaded.append((inputs["bucket"], inputs["key"]))

    # views ----------------------------------------------------------------------------

    def records(self, typ: str) -> list[Any]:
        return self.platform.of_type(typ)

    @property
    def state_machine_arn(self) -> str:
        # The mocks' ARN is made up; moto's is the one AWS would give.
        return self.machine_arn

    def bucket(self, zone: str) -> str:
        return str(self.outputs[f"{zone.replace('-', '_')}_bucket"])

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        s3 = self.client("s3")
        found: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(o["Key"] for o in page.get("Contents", []))
        return found


# -- the played services -----------------------------------------------------------------

# Batch transform in the serving container: argv = model_dir, input folder, entry module,
# DataProcessing (JSON), MaxPayloadInMB. CSV only (what the pipeline sends).
_TRANSFORM_DRIVER = r"""
import importlib, json, sys
from pathlib import Path
model_dir, folder, program, processing, max_mb = sys.argv[1:6]
entry = importlib.import_module(Path(program).stem)
model = entry.model_fn(model_dir)
processing = json.loads(processing)
def columns(spec, cells):
    if not spec or spec == "$":
        return cells
    inner = spec.removeprefix("$[").removesuffix("]")
    if ":" in inner:
        start, _, stop = inner.partition(":")
        return cells[int(start or 0): int(stop) if stop else None]
    return [cells[int(i)] for i in inner.split(",")]
for path in sorted(Path(folder).iterdir()):
    if path.suffix == ".out":
        continue
    lines = [l for l in path.read_text().splitlines() if l.strip()]
    out, batch, size = [], [], 0
    def flush():
        if not batch:
            return
        kept = [",".join(columns(processing.get("InputFilter"), l.split(","))) for l in batch]
        body = "\n".join(kept)
        data = entry.input_fn(body.encode(), "text/csv")
        answer = entry.output_fn(entry.predict_fn(data, model), "text/csv")
        answer = answer[0] if isinstance(answer, tuple) else answer
        answer = answer.decode() if isinstance(answer, bytes) else answer
        results = [r for r in answer.splitlines() if r.strip()]
        assert len(results) == len(batch), (len(results), len(batch))
        for line, result in zip(batch, results):
            joined = result.split(",")
            if processing.get("JoinSource") == "Input":
                joined = line.split(",") + joined
            out.append(",".join(columns(processing.get("OutputFilter"), joined)))
        batch.clear()
    for line in lines:
        if size + len(line) + 1 > float(max_mb) * 1024 * 1024:
            flush(); size = 0
        batch.append(line); size += len(line) + 1
    flush()
    (path.parent / (path.name + ".out")).write_text("\n".join(out) + "\n")
"""

_LAMBDA_BOOTSTRAP = r"""
import importlib, json, sys, traceback
event = json.loads(sys.stdin.read() or "{}")
module, _, name = sys.argv[1].rpartition(".")
class Context:
    aws_request_id = "rehearsal"
    function_name = sys.argv[2]
try:
    result = getattr(importlib.import_module(module), name)(event, Context())
except BaseException as exc:
    print("\n__ERROR__" + json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
          "stackTrace": traceback.format_exc().splitlines()[-6:]}))
    sys.exit(1)
print("\n__RESULT__" + json.dumps(result, default=str))
"""


def lambda_runtime_folder(target: Path) -> Path:
    """What the Lambda Python runtime provides besides the stdlib: boto3 and its deps."""
    if target.is_dir():
        return target
    target.mkdir(parents=True)
    import importlib.util

    for name in (*LAMBDA_RUNTIME_PACKAGES, "six"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (target / source.name).symlink_to(source)
    return target


class Rehearsal:
    """A stood-up :class:`Stack` whose state machine runs in moto with the services played."""

    def __init__(self, stack: Stack, spark: Any = None) -> None:
        self.stack = stack
        self.spark = spark
        self.plays: list[Play] = []
        self.denials: list[str] = []
        self.errors: list[str] = []  # the harness's own failures inside moto's server
        self.sabotage: dict[str, Callable[[Play], None]] = {}
        # SageMaker requests as the state machine sent them, by job (or model) name.
        self.requests: dict[str, dict[str, Any]] = {}
        # Athena's view of the lake per caller: (mirror, {bucket/key: ETag fetched}).
        self._athena_mirrors: dict[str, tuple[Path, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._counter = 0

    # the moto patches ------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Iterator[Rehearsal]:
        """Enforcement on, the interpreter on, the services played; everything undone after."""
        from moto.awslambda.models import LambdaBackend
        from moto.glue.models import FakeJobRun, GlueBackend
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
            wait_function,
        )

        stack = self.stack
        port = stack.endpoint.rsplit(":", 1)[1]
        saved_env = {k: os.environ.get(k) for k in ("MOTO_PORT",)}
        os.environ["MOTO_PORT"] = port
        originals: list[tuple[Any, str, Any]] = []

        def patch(owner: Any, name: str, value: Any) -> None:
            originals.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)

        rehearsal = self
        original_start = GlueBackend.start_job_run

        def start_job_run(backend: Any, *args: Any, **kwargs: Any) -> str:
            try:
                return _start_job_run(backend, *args, **kwargs)
            except Exception:
                rehearsal.errors.append(traceback.format_exc())
                raise

        def _start_job_run(backend: Any, *args: Any, **kwargs: Any) -> str:
            name = kwargs["name"] if "name" in kwargs else args[0]
            run_id = original_start(backend, *args, **kwargs)
            job = backend.get_job(name)
            run = next(r for r in job.job_runs if r.job_run_id == run_id)
            play = rehearsal.play_glue_job(job, run)
            run.status = "SUCCEEDED" if play.ok else "FAILED"
            run.error_message = play.error
            return str(run_id)

        original_as_dict = FakeJobRun.as_dict

        def as_dict(run: Any) -> dict[str, Any]:
            answer = original_as_dict(run)
            if getattr(run, "error_message", ""):
                answer["ErrorMessage"] = run.error_message
            return answer

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: Any,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            function = backend.get_function(function_name, qualifier)
            play = rehearsal.play_lambda(function, body)
            if play.ok:
                payload = play.output.encode()
            else:
                response_headers["x-amz-function-error"] = "Unhandled"
                payload = json.dumps(
                    {"errorType": "RehearsalError", "errorMessage": play.error}
                ).encode()
            response_headers["Content-Length"] = str(len(payload))
            return payload

        def no_wait(self: Any, env: Any, wait_seconds: int) -> None:
            return None

        from types import SimpleNamespace

        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        patch(GlueBackend, "start_job_run", start_job_run)
        from moto.athena.models import AthenaBackend, QueryResults

        original_query = AthenaBackend.start_query_execution

        def start_query_execution(backend: Any, *args: Any, **kwargs: Any) -> str:
            exec_id = original_query(backend, *args, **kwargs)
            execution = backend.executions[exec_id]
            try:
                columns, rows = rehearsal.play_athena(
                    execution.query,
                    (execution.context or {}).get("Database", ""),
                    list(execution.execution_parameters or []),
                )
                backend.query_results[exec_id] = QueryResults(rows=rows, column_info=columns)
                backend._store_query_result_in_s3(exec_id)
            except Exception as exc:
                rehearsal.errors.append(traceback.format_exc())
                execution.status = "FAILED"
                execution.state_change_reason = f"rehearsal Athena: {exc}"
            return str(exec_id)

        patch(AthenaBackend, "start_query_execution", start_query_execution)
        from moto.sagemaker.models import SageMakerModelBackend

        original_training = SageMakerModelBackend.create_training_job

        def create_training_job(backend: Any, *args: Any, **kwargs: Any) -> Any:
            job = original_training(backend, *args, **kwargs)
            try:
                play = rehearsal.play_training_job(job)
            except Exception:
                rehearsal.errors.append(traceback.format_exc())
                raise
            job.training_job_status = "Completed" if play.ok else "Failed"
            job.secondary_status = job.training_job_status
            if not play.ok:
                job.failure_reason = play.error
            return job

        patch(SageMakerModelBackend, "create_training_job", create_training_job)
        original_processing = SageMakerModelBackend.create_processing_job
        original_transform = SageMakerModelBackend.create_transform_job

        def create_processing_job(backend: Any, *args: Any, **kwargs: Any) -> Any:
            job = original_processing(backend, *args, **kwargs)
            try:
                play = rehearsal.play_processing_job(job)
            except Exception:
                rehearsal.errors.append(traceback.format_exc())
                raise
            job.processing_job_status = "Completed" if play.ok else "Failed"
            if not play.ok:
                job.failure_reason = play.error
            return job

        def create_transform_job(backend: Any, *args: Any, **kwargs: Any) -> Any:
            job = original_transform(backend, *args, **kwargs)
            try:
                play = rehearsal.play_transform_job(job, backend._models[job.model_name])
            except Exception:
                rehearsal.errors.append(traceback.format_exc())
                raise
            job.transform_job_status = "Completed" if play.ok else "Failed"
            if not play.ok:
                job.failure_reason = play.error
            return job

        patch(SageMakerModelBackend, "create_processing_job", create_processing_job)
        patch(SageMakerModelBackend, "create_transform_job", create_transform_job)
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
            state_task_factory,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_aws_sdk,
        )

        original_factory = state_task_factory.state_task_service_for

        def state_task_service_for(service_name: str) -> Any:
            if service_name == "sagemaker":
                return _sagemaker_sync_service(
                    boto_client_for, definition_states, rehearsal.requests
                )
            return original_factory(service_name)

        (machine,) = stack.records("aws:sfn/stateMachine:StateMachine")
        definition_states = json.loads(machine.inputs["definition"])["States"]
        patch(state_task_factory, "state_task_service_for", state_task_service_for)
        aws_sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
        original_sdk_eval = aws_sdk._eval_service_task

        def sdk_eval(service: Any, env: Any, *args: Any, **kwargs: Any) -> None:
            original_sdk_eval(service, env, *args, **kwargs)
            # Step Functions returns an S3 object's Body as text; moto leaves the stream.
            answer = env.stack[-1] if env.stack else None
            if isinstance(answer, dict) and hasattr(answer.get("Body"), "read"):
                answer["Body"] = answer["Body"].read().decode("utf-8")

        patch(aws_sdk, "_eval_service_task", sdk_eval)
        patch(FakeJobRun, "as_dict", as_dict)
        patch(LambdaBackend, "invoke", invoke)
        patch(wait_function.WaitFunction, "_wait_interval", no_wait)
        patch(*_fixed_sync_integration())
        # Retry intervals (60 s, then 120 s) pass at once too; the attempts still happen.
        patch(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None, time=time.time))
        # The interpreter's own calls (Lambda, Glue, SNS) are made as the state machine's role.
        sfn_role = self._state_machine_role()
        creds = stack.role_session(sfn_role, "states")
        import boto3
        from botocore.config import Config

        def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            return boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=stack.endpoint,
                aws_access_key_id=creds.key,
                aws_secret_access_key=creds.secret,
                aws_session_token=creds.token,
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    read_timeout=900,
                ),
            )

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("moto.stepfunctions.parser") and hasattr(
                module, "boto_client_for"
            ):
                patch(module, "boto_client_for", boto_client_for)
        _moto_api(
            stack.endpoint, "/moto-api/config", {"stepfunctions": {"execute_state_machine": True}}
        )
        _moto_api(
            stack.endpoint,
            "/moto-api/state-manager/set-transition",
            {"model_name": "glue::crawl", "transition": {"progression": "immediate"}},
        )
        with resource_aware_iam(self.denials):
            _moto_api(stack.endpoint, "/moto-api/reset-auth", b"0")
            try:
                yield self
            finally:
                _moto_api(stack.endpoint, "/moto-api/reset-auth", b"inf")
                for owner, name, value in reversed(originals):
                    setattr(owner, name, value)
                for key, value in saved_env.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def _state_machine_role(self) -> str:
        (record,) = self.stack.records("aws:sfn/stateMachine:StateMachine")
        return str(record.inputs["roleArn"])

    def _workdir(self, what: str) -> Path:
        with self._lock:
            self._counter += 1
            folder = self.stack.workdir / "plays" / f"{self._counter:03d}-{what}"
        folder.mkdir(parents=True)
        return folder

    def _base_env(self, creds: Credentials) -> dict[str, str]:
        return {
            **creds.env(),
            "AWS_ENDPOINT_URL": self.stack.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "NO_PROXY": "127.0.0.1,localhost",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    # Lambda ------------------------------------------------------------------------------

    def play_lambda(self, function: Any, body: Any) -> Play:
        """Run the function's handler from its code archive, as its role, with its env."""
        name = function.function_name
        role = function.role
        play = Play("lambda", name, role.rsplit("/", 1)[-1])
        self.plays.append(play)
        try:
            creds = self.stack.role_session(role, "lambda")
            task = self._workdir("lambda") / "task"
            shutil.copytree(self.stack.lambda_code[name], task)
            runtime = lambda_runtime_folder(self.stack.workdir / "lambda-runtime")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LAMBDA_TASK_ROOT": str(task),
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "PYTHONPATH": os.pathsep.join(
                    str(p) for p in [task, *self.stack.lambda_layers.get(name, []), runtime]
                ),
                "PYTHONDONTWRITEBYTECODE": "1",
                **dict(function.environment_vars or {}),
                **self._base_env(creds),
            }
            if name in self.sabotage:
                self.sabotage[name](play)
                env.update(play.arguments)
            event = body.decode() if isinstance(body, bytes) else str(body or "{}")
            done = subprocess.run(
                [sys.executable, "-S", "-c", _LAMBDA_BOOTSTRAP, function.handler, name],
                input=event,
                capture_output=True,
                text=True,
                cwd=task,
                env=env,
                timeout=300,
            )
            play.output = done.stdout
            play.log = done.stdout.split("\n__RESULT__", 1)[0].split("\n__ERROR__", 1)[0]
            self.deliver_metrics(play)
            if "__RESULT__" in done.stdout:
                play.output = done.stdout.rsplit("__RESULT__", 1)[1].strip()
            else:
                play.ok = False
                detail = done.stdout.rsplit("__ERROR__", 1)[-1].strip()
                try:
                    error = json.loads(detail)
                    play.error = f"{error['errorType']}: {error['errorMessage']}"
                except ValueError:
                    play.error = (done.stderr or done.stdout).strip().splitlines()[-1:] and (
                        done.stderr or done.stdout
                    ).strip().splitlines()[-1]
                play.output = done.stderr[-4000:]
        except Exception as exc:  # the harness itself failed: say so, never hang the run
            play.ok, play.error = False, f"harness: {type(exc).__name__}: {exc}"
        return play

    # Glue --------------------------------------------------------------------------------

    def _lake_buckets(self) -> list[str]:
        zones = ("raw", "processed", "curated", "scripts", "query-results")
        return [
            self.stack.bucket(z)
            for z in zones
            if f"{z.replace('-', '_')}_bucket" in self.stack.outputs
        ]

    def _mirror_down(
        self, creds: Credentials, mirror: Path, play: Play
    ) -> dict[str, tuple[int, int]]:
        """Copy what the role can read of each lake bucket; return the snapshot."""
        s3 = self.stack.client("s3", creds)
        snapshot: dict[str, tuple[int, int]] = {}
        for bucket in self._lake_buckets():
            (mirror / bucket).mkdir(parents=True, exist_ok=True)
            try:
                keys = _list_keys(s3, bucket)
            except Exception as exc:
                play.denied.append(f"list s3://{bucket}: {_error_code(exc)}")
                continue
            for key in keys:
                target = mirror / bucket / key
                try:
                    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except Exception as exc:
                    play.denied.append(f"read s3://{bucket}/{key}: {_error_code(exc)}")
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                stat = target.stat()
                snapshot[f"{bucket}/{key}"] = (stat.st_size, stat.st_mtime_ns)
        return snapshot

    def _mirror_up(
        self, creds: Credentials, mirror: Path, snapshot: Mapping[str, tuple[int, int]]
    ) -> list[str]:
        """Write back what the run changed, as the role; the writes it was refused."""
        s3 = self.stack.client("s3", creds)
        refused: list[str] = []
        now: dict[str, tuple[int, int]] = {}
        for path in sorted(mirror.rglob("*")):
            relative = path.relative_to(mirror).as_posix()
            if not path.is_file() or "/_temporary/" in relative or ".spark-staging" in relative:
                continue
            if path.name.endswith(".crc"):
                continue
            stat = path.stat()
            now[relative] = (stat.st_size, stat.st_mtime_ns)
        for relative, signature in now.items():
            if snapshot.get(relative) == signature:
                continue
            bucket, _, key = relative.partition("/")
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=(mirror / relative).read_bytes())
            except Exception as exc:
                refused.append(f"PutObject s3://{bucket}/{key}: {_error_code(exc)}")
        for relative in sorted(set(snapshot) - set(now)):
            bucket, _, key = relative.partition("/")
            try:
                s3.delete_object(Bucket=bucket, Key=key)
            except Exception as exc:
                refused.append(f"DeleteObject s3://{bucket}/{key}: {_error_code(exc)}")
        return refused

    @contextlib.contextmanager
    def _spark_on_mirror(self, mirror: Path) -> Iterator[None]:
        """Spark's s3:// paths read and write the local mirror (Hadoop's view filesystem)."""
        if self.spark is None:
            yield
            return
        conf = self.spark._jsc.hadoopConfiguration()
        settings = {
            "fs.s3.impl": "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme",
            "fs.s3.impl.disable.cache": "true",
            "fs.viewfs.overload.scheme.target.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
        }
        for bucket in self._lake_buckets():
            settings[f"fs.viewfs.mounttable.{bucket}.linkFallback"] = (mirror / bucket).as_uri()
        before = {k: conf.get(k) for k in settings}
        for k, v in settings.items():
            conf.set(k, v)
        try:
            yield
        finally:
            for k, v in before.items():
                if v is None:
                    conf.unset(k)
                else:
                    conf.set(k, v)

    def play_glue_job(self, job: Any, run: Any) -> Play:
        """Run the job's script with the run's arguments, as the job's role."""
        arguments = {str(k): str(v) for k, v in (run.arguments or {}).items()}
        play = Play("glue", job.name, job.role.rsplit("/", 1)[-1], arguments=arguments)
        self.plays.append(play)
        try:
            if job.name in self.sabotage:
                self.sabotage[job.name](play)
            creds = self.stack.role_session(job.role, "glue")
            folder = self._workdir(f"glue-{job.name}")
            location = job.command["ScriptLocation"]
            bucket, _, key = location.removeprefix("s3://").partition("/")
            try:
                script_bytes = (
                    self.stack.client("s3", creds).get_object(Bucket=bucket, Key=key)["Body"].read()
                )
            except Exception as exc:
                play.ok, play.error = (
                    False,
                    f"cannot read the script {location}: {_error_code(exc)}",
                )
                return play
            script = folder / Path(key).name
            script.write_bytes(script_bytes)
            mirror = folder / "s3-mirror"
            snapshot = self._mirror_down(creds, mirror, play)
            argv = [str(script), "--JOB_NAME", job.name, "--JOB_RUN_ID", run.job_run_id]
            for name, value in play.arguments.items():
                argv += [name, value]
            with self._spark_on_mirror(mirror):
                code, output = _run_script(script, argv, folder, self._base_env(creds))
            play.output = play.log = output
            self.deliver_metrics(play)
            refused = self._mirror_up(creds, mirror, snapshot)
            if code != 0:
                play.ok = False
                play.error = _last_error(output) or f"exited {code}"
            if refused:
                play.ok = False
                play.error = "; ".join(filter(None, [play.error, *refused[:3]]))
        except Exception as exc:
            play.ok, play.error = False, f"harness: {type(exc).__name__}: {exc}"
        return play

    # SageMaker training ------------------------------------------------------------------

    def play_training_job(self, job: Any) -> Play:
        """Script mode as the scikit-learn container runs it, under the job's role.

        ``/opt/ml`` is a working folder: the source archive in ``code/``, each S3 channel in
        ``input/data/<channel>/``, the model written to ``model/`` and uploaded as
        ``<S3OutputPath>/<job>/output/model.tar.gz``. The container's Python is this
        environment's (it has numpy, pandas, scikit-learn and joblib, as the image does);
        lakelib comes only from the source archive, which is first on the import path.
        """
        import tarfile

        play = Play("sagemaker", job.training_job_name, str(job.role_arn).rsplit("/", 1)[-1])
        self.plays.append(play)
        if not job.role_arn:
            play.ok, play.error = False, "the training job was created without a RoleArn"
            return play
        creds = self.stack.role_session(job.role_arn, "sagemaker")
        s3 = self.stack.client("s3", creds)
        ml = self._workdir("training") / "opt-ml"
        hyper = {k: json.loads(v) for k, v in (job.hyper_parameters or {}).items()}
        play.arguments = {k: str(v) for k, v in hyper.items()}

        def fetch(uri: str, target: Path) -> None:
            bucket, _, prefix = uri.removeprefix("s3://").partition("/")
            keys = [k for k in _list_keys_prefix(s3, bucket, prefix)]
            for key in keys:
                destination = target / (key[len(prefix) :].lstrip("/") or Path(key).name)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

        try:
            code = ml / "code"
            code.mkdir(parents=True)
            channels = {}
            for channel in job.input_data_config:
                name = channel["ChannelName"]
                fetch(channel["DataSource"]["S3DataSource"]["S3Uri"], ml / "input" / "data" / name)
                channels[f"SM_CHANNEL_{name.upper()}"] = str(ml / "input" / "data" / name)
            submit = str(hyper["sagemaker_submit_directory"])
            if submit.startswith("/opt/ml/"):
                # Network isolation: the toolkit extracts the bundle a channel brought.
                source = ml / submit.removeprefix("/opt/ml/")
            else:
                if job.enable_network_isolation:
                    raise RehearsalError(f"an isolated job cannot download {submit}")
                fetch(submit, ml / "source")
                (source,) = (ml / "source").glob("*.tar.gz")
            with tarfile.open(source) as tar:
                tar.extractall(code, filter="data")
        except Exception as exc:
            play.ok, play.error = False, f"cannot fetch the job's inputs: {_error_code(exc)}"
            return play
        (ml / "model").mkdir()
        (ml / "output" / "data").mkdir(parents=True)
        argv = []
        for name, value in hyper.items():
            if not name.startswith("sagemaker_"):
                argv += [f"--{name}", str(value)]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(code),
            "PYTHONDONTWRITEBYTECODE": "1",
            "SM_MODEL_DIR": str(ml / "model"),
            "SM_OUTPUT_DATA_DIR": str(ml / "output" / "data"),
            "SM_HPS": json.dumps(
                {k: v for k, v in hyper.items() if not k.startswith("sagemaker_")}
            ),
            **channels,
        }
        done = subprocess.run(
            [sys.executable, str(code / str(hyper.get("sagemaker_program", "train.py"))), *argv],
            capture_output=True,
            text=True,
            cwd=code,
            env=env,
            timeout=600,
        )
        play.output = done.stdout[-4000:] + done.stderr[-4000:]
        play.log = done.stdout
        self.deliver_metrics(play)
        if done.returncode != 0:
            play.ok, play.error = False, _last_error(done.stderr) or f"exited {done.returncode}"
            return play
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted((ml / "model").rglob("*")):
                tar.add(path, arcname=path.relative_to(ml / "model").as_posix(), recursive=False)
        artifact = job.model_artifacts["S3ModelArtifacts"]
        bucket, _, key = artifact.removeprefix("s3://").partition("/")
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        except Exception as exc:
            play.ok, play.error = False, f"cannot write {artifact}: {_error_code(exc)}"
        return play

    # SageMaker processing -----------------------------------------------------------------

    def play_processing_job(self, job: Any) -> Play:
        """A processing container: its inputs copied under ``/opt/ml/processing/input/`` (a
        working folder stands for ``/opt/ml``) under the job's role, then its entry point run
        with its arguments and the request's environment, as that role.

        The entry point runs in this process (as the Glue jobs do: lakelib is imported from
        the repository, so its install from the wheelhouse is not exercised; the harness
        checks the wheelhouse input carries lakelib's wheel).
        """
        request = self.requests.get(job.processing_job_name, {})
        play = Play("sagemaker", job.processing_job_name, str(job.role_arn).rsplit("/", 1)[-1])
        self.plays.append(play)
        try:
            creds = self.stack.role_session(job.role_arn, "sagemaker")
            s3 = self.stack.client("s3", creds)
            ml = self._workdir("processing") / "opt-ml"

            def local(path: str) -> Path:
                if not path.startswith("/opt/ml/"):
                    raise RehearsalError(f"not a container path under /opt/ml: {path}")
                return ml / path.removeprefix("/opt/ml/")

            for spec in job.processing_inputs:
                source = spec["S3Input"]
                bucket, _, prefix = source["S3Uri"].removeprefix("s3://").partition("/")
                target = local(source["LocalPath"])
                target.mkdir(parents=True, exist_ok=True)
                try:
                    keys = _list_keys_prefix(s3, bucket, prefix)
                    for key in keys:
                        destination = target / (key[len(prefix) :].lstrip("/") or Path(key).name)
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                        destination.write_bytes(body)
                except Exception as exc:
                    play.ok = False
                    play.error = f"cannot fetch input {spec['InputName']}: {_error_code(exc)}"
                    return play
                if not keys:
                    play.ok, play.error = (
                        False,
                        f"input {spec['InputName']}: no object at {source['S3Uri']}",
                    )
                    return play
            wheels = local("/opt/ml/processing/input/wheels")
            if not _has_lakelib_wheel(wheels):
                play.ok, play.error = False, f"no lakelib wheel in the wheelhouse input {wheels}"
                return play
            app = job.app_specification
            entry = [str(local(p)) if p.startswith("/opt/ml/") else p
                     for p in app["ContainerEntrypoint"]]  # fmt: skip
            if entry[0] != "python3" or len(entry) != 2:
                raise RehearsalError(f"the harness runs python3 <script>, not {entry}")
            arguments = [str(a) for a in app.get("ContainerArguments", [])]
            play.arguments = dict(zip(arguments[::2], arguments[1::2], strict=False))
            env = {**dict(request.get("Environment") or {}), **self._base_env(creds)}
            script = Path(entry[1])
            if job.processing_job_name in self.sabotage:
                self.sabotage[job.processing_job_name](play)
            code, output = _run_script(script, [str(script), *arguments], ml / "processing", env)
            play.output = play.log = output
            self.deliver_metrics(play)
            if code != 0:
                play.ok = False
                play.error = _last_error(output) or f"exited {code}"
        except Exception as exc:
            play.ok, play.error = False, f"harness: {type(exc).__name__}: {exc}"
        return play

    # SageMaker batch transform ------------------------------------------------------------

    def play_transform_job(self, job: Any, model: Any) -> Play:
        """Batch transform as the scikit-learn serving container runs it, under the model's role.

        ``/opt/ml/model`` is the model archive extracted; with network isolation the code is
        its ``code/`` folder (``SAGEMAKER_SUBMIT_DIRECTORY``). Each input file is split into
        lines, sent in ``MultiRecord`` batches under ``MaxPayloadInMB`` through the entry
        point's ``input_fn -> predict_fn -> output_fn`` (a subprocess whose import path is the
        code folder), filtered and joined as ``DataProcessing`` says, and written to
        ``<S3OutputPath>/<file>.out``.
        """
        import tarfile

        container = model.primary_container
        role = str(model.execution_role_arn)
        play = Play("sagemaker", job.transform_job_name, role.rsplit("/", 1)[-1])
        self.plays.append(play)
        sent = self.requests.get(model.model_name, {})
        try:
            creds = self.stack.role_session(role, "sagemaker")
            s3 = self.stack.client("s3", creds)
            ml = self._workdir("transform") / "opt-ml"
            model_dir = ml / "model"
            model_dir.mkdir(parents=True)
            submit = container["Environment"].get("SAGEMAKER_SUBMIT_DIRECTORY", "")
            if sent.get("EnableNetworkIsolation") and not submit.startswith("/opt/ml/model"):
                raise RehearsalError(f"an isolated model cannot download {submit}")
            bucket, _, key = container["ModelDataUrl"].removeprefix("s3://").partition("/")
            archive = io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            with tarfile.open(fileobj=archive, mode="r:gz") as tar:
                tar.extractall(model_dir, filter="data")
            code = ml / submit.removeprefix("/opt/ml/")
            source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
            in_bucket, _, prefix = source.removeprefix("s3://").partition("/")
            out_bucket, _, out_prefix = (
                job.transform_output["S3OutputPath"].removeprefix("s3://").partition("/")
            )
            inputs = ml / "input"
            inputs.mkdir()
            names = []
            for input_key in _list_keys_prefix(s3, in_bucket, prefix):
                name = input_key[len(prefix) :].lstrip("/") or Path(input_key).name
                (inputs / name).write_bytes(
                    s3.get_object(Bucket=in_bucket, Key=input_key)["Body"].read()
                )
                names.append(name)
            done = subprocess.run(
                [sys.executable, "-c", _TRANSFORM_DRIVER, str(model_dir), str(inputs),
                 str(container["Environment"].get("SAGEMAKER_PROGRAM", "inference.py")),
                 json.dumps(job.data_processing), str(job.max_payload_in_mb)],
                capture_output=True, text=True, cwd=code, timeout=300,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(code),
                     "PYTHONDONTWRITEBYTECODE": "1"},
            )  # fmt: skip
            play.output = play.log = done.stdout[-4000:] + done.stderr[-4000:]
            if done.returncode != 0:
                play.ok, play.error = False, _last_error(done.stderr) or f"exited {done.returncode}"
                return play
            for name in names:
                body = (inputs / f"{name}.out").read_bytes()
                target = f"{out_prefix.rstrip('/')}/{name}.out".lstrip("/")
                s3.put_object(Bucket=out_bucket, Key=target, Body=body)
        except Exception as exc:
            play.ok, play.error = False, f"harness: {type(exc).__name__}: {_error_code(exc)}"
        return play

    # CloudWatch Logs -----------------------------------------------------------------------

    def deliver_metrics(self, play: Play) -> None:
        """What CloudWatch Logs does with embedded-metric-format lines: metrics.

        Only bare JSON lines count (a log prefix would make them plain log text, as on AWS).
        """
        import datetime as _dt

        cloudwatch = self.stack.client("cloudwatch")
        for line in play.log.splitlines():
            if not line.startswith("{"):
                continue
            try:
                document = json.loads(line)
            except ValueError:
                continue
            meta = document.get("_aws") if isinstance(document, dict) else None
            if not isinstance(meta, dict):
                continue
            stamp = _dt.datetime.fromtimestamp(meta.get("Timestamp", 0) / 1000, _dt.UTC)
            for directive in meta.get("CloudWatchMetrics", []):
                for dimensions in directive.get("Dimensions", []):
                    data = [
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": [
                                {"Name": d, "Value": str(document[d])} for d in dimensions
                            ],
                            "Value": float(document[metric["Name"]]),
                            "Unit": metric.get("Unit", "None"),
                            "Timestamp": stamp,
                        }
                        for metric in directive.get("Metrics", [])
                        if metric["Name"] in document
                    ]
                    if data:
                        cloudwatch.put_metric_data(
                            Namespace=directive["Namespace"], MetricData=data
                        )

    # Athena ------------------------------------------------------------------------------

    def play_athena(
        self, query: str, database: str, params: list[Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Answer an Athena query with lakelib's local engine over the lake as the caller sees it.

        Runs inside moto's request thread while the calling job holds its role's credentials
        in the environment: the catalog and the objects are read with those, as Athena does.
        """
        from dataclasses import replace

        from lakelib.catalog._glue import GlueCatalog
        from lakelib.catalog._local import LocalCatalog
        from lakelib.config import load_settings
        from lakelib.query._local import LocalEngine

        caller = Credentials(
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_SESSION_TOKEN"),
        )
        folder = self._workdir("athena")
        # One mirror per caller, brought up to date before each query (only new or changed
        # objects are fetched: the objects' ETags as the caller lists them).
        home, fetched = self._athena_mirrors.setdefault(
            caller.key, (self.stack.workdir / "athena-mirrors" / caller.key / "lake", {})
        )
        zones = {"raw": "raw", "processed": "processed", "curated": "curated"}
        roots = {self.stack.bucket(zone): home / local for zone, local in zones.items()}
        s3 = self.stack.client("s3", caller)
        # What the caller may not read stays out (a query over it finds nothing).
        for bucket, root in roots.items():
            root.mkdir(parents=True, exist_ok=True)
            try:
                listed = _list_etags(s3, bucket)
            except Exception:
                listed = {}
            for key, etag in listed.items():
                if fetched.get(f"{bucket}/{key}") == etag:
                    continue
                try:
                    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except Exception:
                    continue
                target = root / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                fetched[f"{bucket}/{key}"] = etag
            for name in [n for n in fetched if n.startswith(f"{bucket}/")]:
                if name.partition("/")[2] not in listed:
                    (root / name.partition("/")[2]).unlink(missing_ok=True)
                    del fetched[name]

        def local(location: str) -> str:
            for bucket, root in roots.items():
                prefix = f"s3://{bucket}/"
                if location.startswith(prefix):
                    return str(root / location[len(prefix) :])
            return location

        settings = load_settings(profile="local", home=home, cwd=folder, env={})
        glue = GlueCatalog(database, region=REGION)
        catalog = LocalCatalog(folder / "catalog.sqlite", database)
        for table in glue.list_tables():
            catalog.put_table(replace(table, location=local(table.location)))
            partitions = [
                replace(p, location=local(p.location)) for p in glue.list_partitions(table.name)
            ]
            if partitions:
                catalog.add_partitions(table.name, partitions)
        engine = LocalEngine(settings, catalog=catalog)
        try:
            result = engine.execute(engine.plan(_bind_qmarks(query, params), database=database))
        finally:
            engine.close()
        return _athena_results(result)

    # days ----------------------------------------------------------------------------------

    def run_day(self, run_date: str, timeout: float = 300.0) -> DayResult:
        """Start the state machine for ``run_date`` (as the daily schedule would) and wait."""
        sfn = self.stack.client("stepfunctions")
        started = len(self.plays)
        arn = sfn.start_execution(
            stateMachineArn=self.stack.state_machine_arn,
            name=f"daily-{run_date}-{int(time.time() * 1000)}",
            input=json.dumps({"run_date": f"{run_date}T02:00:00Z"}),
        )["executionArn"]
        begun = time.monotonic()
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > begun + timeout:
                break
            # moto's interpreter leaves a definition it cannot parse RUNNING with no events.
            if (
                time.monotonic() > begun + 20
                and not sfn.get_execution_history(executionArn=arn, maxResults=1)["events"]
            ):
                described["status"] = "NOT STARTED (moto could not parse the definition)"
                break
            time.sleep(0.2)
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return DayResult(run_date, described["status"], history, self.plays[started:])


def _fixed_sync_integration() -> tuple[Any, str, Any]:
    """moto 5.2.5's ``.sync`` evaluation with its one bug fixed.

    ``StateTaskServiceCallback._eval_integration_pattern`` ends with
    ``callback_endpoint.interrupt_all()`` in a ``finally``, but the endpoint is ``None`` for
    every integration without ``.waitForTaskToken`` (Glue among them): every
    ``glue:startJobRun.sync`` task fails with "'NoneType' object has no attribute
    'interrupt_all'" whatever the run did. The same function, with that call guarded.
    """
    import inspect
    import textwrap

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as module,
    )

    owner = module.StateTaskServiceCallback
    source = textwrap.dedent(inspect.getsource(owner._eval_integration_pattern))
    broken = "    callback_endpoint.interrupt_all()"
    if broken not in source:  # a fixed moto: nothing to do
        return owner, "_eval_integration_pattern", owner._eval_integration_pattern
    source = source.replace(
        broken,
        "    if callback_endpoint is not None:\n            callback_endpoint.interrupt_all()",
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, module.__file__, "exec"), dict(vars(module)), namespace)
    return owner, "_eval_integration_pattern", namespace["_eval_integration_pattern"]


def _bind_qmarks(sql: str, params: list[Any]) -> str:
    """Athena's ``ExecutionParameters``: each ``?`` outside quotes becomes the literal given."""
    if not params:
        return sql
    out, values, quote = [], iter(params), ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append(str(next(values)))
            continue
        out.append(char)
    return "".join(out)


def _athena_type(arrow_type: Any) -> tuple[str, int, int]:
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean", 0, 0
    if pa.types.is_integer(arrow_type):
        return ("bigint" if arrow_type.bit_width > 32 else "integer"), 19, 0
    if pa.types.is_floating(arrow_type):
        return "double", 17, 0
    if pa.types.is_decimal(arrow_type):
        return "decimal", arrow_type.precision, arrow_type.scale
    if pa.types.is_date(arrow_type):
        return "date", 0, 0
    if pa.types.is_timestamp(arrow_type):
        return "timestamp", 3, 0
    return "varchar", 2147483647, 0


def _athena_text(value: Any) -> str:
    import datetime as _dt

    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace('"', '""')


def _athena_results(table: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A pyarrow table as Athena's ``ColumnInfo`` and result rows (header row first)."""
    columns = []
    for field_ in table.schema:
        kind, precision, scale = _athena_type(field_.type)
        columns.append(
            {
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Name": field_.name,
                "Label": field_.name,
                "Type": kind,
                "Precision": precision,
                "Scale": scale,
                "Nullable": "UNKNOWN",
                "CaseSensitive": kind == "varchar",
            }
        )
    rows = [{"Data": [{"VarCharValue": c["Name"]} for c in columns]}]
    for record in table.to_pylist():
        rows.append(
            {
                "Data": [
                    {}
                    if record[c["Name"]] is None
                    else {"VarCharValue": _athena_text(record[c["Name"]])}
                    for c in columns
                ]
            }
        )
    return columns, rows


# What the harness's SageMaker integration creates and polls, by boto3 action.
SAGEMAKER_JOBS = {
    "create_training_job": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "create_processing_job": (
        "describe_processing_job",
        "ProcessingJobName",
        "ProcessingJobStatus",
    ),
    "create_transform_job": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
}


def _sagemaker_sync_service(
    client_for: Callable[[str, str], Any],
    states: Mapping[str, Any],
    requests: dict[str, dict[str, Any]],
) -> Any:
    """SageMaker for moto's interpreter (moto has none): ``createModel`` and the ``.sync``
    training, processing and transform jobs.

    Creates the job (moto's SageMaker, where the harness plays it), then polls its
    ``Describe*`` until it is Completed (the output) or Failed (a task failure naming the
    reason), as Step Functions does. ``requests`` receives each request as sent (moto keeps
    neither a processing job's environment nor a model's isolation).
    """
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    class SageMakerSync(callback.StateTaskServiceCallback):
        def __init__(self) -> None:
            super().__init__(supported_integration_patterns={ResourceCondition.Sync})

        def _get_supported_parameters(self) -> set[str] | None:
            return set()  # any: the strict request-shape plugin checks the requests

        def _client(self, region: str) -> Any:
            return client_for(region, "sagemaker")

        def _eval_service_task(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict,
            state_credentials: Any,
        ) -> None:
            client = self._client(resource_runtime_part.region)
            action = self._get_boto_service_action()
            # moto's ASL grammar reads "RoleArn" as the Credentials keyword, so a
            # Parameters "RoleArn" never reaches the request: bind it from the definition.
            raw = states.get(self.name, {}).get("Parameters", {})
            if "RoleArn" not in normalised_parameters and "RoleArn.$" in raw:
                normalised_parameters["RoleArn"] = env.states.get_input(raw["RoleArn.$"])
            elif "RoleArn" not in normalised_parameters and "RoleArn" in raw:
                normalised_parameters["RoleArn"] = raw["RoleArn"]
            name_key = SAGEMAKER_JOBS.get(action, ("", "ModelName", ""))[1]
            requests[str(normalised_parameters.get(name_key))] = dict(normalised_parameters)
            answer = getattr(client, action)(**normalised_parameters)
            answer.pop("ResponseMetadata", None)
            if action in SAGEMAKER_JOBS:
                answer[name_key] = normalised_parameters.get(name_key)
            env.stack.append(answer)

        def _build_sync_resolver(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict,
            state_credentials: Any,
        ) -> Any:
            started = env.stack.pop()
            client = self._client(resource_runtime_part.region)
            describe, name_key, status_key = SAGEMAKER_JOBS[self._get_boto_service_action()]
            service = self

            def resolve() -> Any:
                job = getattr(client, describe)(**{name_key: started[name_key]})
                job.pop("ResponseMetadata", None)
                status = job[status_key]
                if status == "Completed":
                    return json.loads(to_json_str(job))
                if status in ("Failed", "Stopped"):
                    raise FailureEventException(
                        FailureEvent(
                            env=env,
                            error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                            event_type=HistoryEventType.TaskFailed,
                            event_details=EventDetails(
                                taskFailedEventDetails=TaskFailedEventDetails(
                                    resource=service._get_sfn_resource(),
                                    resourceType=service._get_sfn_resource_type(),
                                    error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                    cause=job.get("FailureReason", status),
                                )
                            ),
                        )
                    )
                return None

            return resolve

    return SageMakerSync()


def _has_lakelib_wheel(folder: Path) -> bool:
    """Whether a wheelhouse input carries lakelib's wheel (loose, or in a wheelhouse zip)."""
    for path in folder.rglob("*"):
        if path.name.startswith("lakelib-") and path.suffix == ".whl":
            return True
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                if any(n.startswith("lakelib-") and n.endswith(".whl") for n in archive.namelist()):
                    return True
    return False


def _list_keys_prefix(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def _list_etags(s3: Any, bucket: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return found


def _list_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code', type(exc).__name__)} {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def _last_error(output: str) -> str:
    """The line of a job's output that says why it failed (not its metrics' JSON lines)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("{")]
    for line in reversed(lines):
        if " ERROR " in line or line.startswith("pipeline_stage "):
            return line
    for line in reversed(lines):
        if re.search(r"(Error|Exception)\b", line):
            return line
    return lines[-1] if lines else ""


def _run_script(
    script: Path, argv: list[str], cwd: Path, env: Mapping[str, str]
) -> tuple[int, str]:
    """Run a job script in this process (the shared SparkSession) with Glue's argv and env."""
    from lakelib.config import reset_settings

    saved_env = dict(os.environ)
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    for name in list(os.environ):
        if name.startswith(("LAKE_", "AWS_")):
            del os.environ[name]
    os.environ.update(env)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    code = 0
    reset_settings()
    try:
        sys.argv = argv
        os.chdir(cwd)
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                runpy.run_path(str(script), run_name="__main__")
            except SystemExit as exit_:
                code = (
                    exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                )
                if isinstance(exit_.code, str):
                    buffer.write(exit_.code + "\n")
            except BaseException:
                buffer.write(traceback.format_exc())
                code = 1
    finally:
        root.removeHandler(handler)
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        reset_settings()
    return code, buffer.getvalue()


@dataclass
class DayResult:
    """One execution of the daily state machine."""

    run_date: str
    status: str
    history: list[dict[str, Any]]
    plays: list[Play]

    @property
    def failure(self) -> str:
        """``stage <state>: <cause>`` for the first failed task, or ``""``."""
        entered = ""
        for event in self.history:
            if event["type"].endswith("StateEntered"):
                entered = event["stateEnteredEventDetails"]["name"]
            if event["type"] in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed"):
                details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
                played = next((p for p in self.plays if not p.ok), None)
                cause = (
                    played.error if played else f"{details.get('error')}: {details.get('cause')}"
                )
                who = f" ({played.service} {played.name} as role {played.role})" if played else ""
                return f"stage {entered}{who}: {cause}"
        return ""

    def states(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if e["type"].endswith("StateEntered")
        ]

    def check(self) -> None:
        """Raise :class:`RehearsalError` naming the stage and the cause unless it succeeded."""
        if self.status != "SUCCEEDED":
            raise RehearsalError(
                f"daily run {self.run_date} {self.status}: {self.failure or 'no failed task'}"
                f" (states: {' > '.join(self.states())})"
            )


# -- what the tests share ----------------------------------------------------------------

# The lake's history starts 2026-01-01; the user backfills all but the last two days, which
# the daily state machine then runs. 53 days are what the churn model's time split needs
# (history 14 + step 7 + horizon 30 days), so the first rehearsed day trains a model.
HISTORY_START = dt.date(2026, 1, 1)
HISTORY_DAYS = 53
DAYS = tuple(
    (HISTORY_START + dt.timedelta(days=HISTORY_DAYS - 2 + i)).isoformat() for i in range(2)
)
BACKFILLED = tuple(
    (HISTORY_START + dt.timedelta(days=i)).isoformat() for i in range(HISTORY_DAYS - 2)
)


class DailySource:
    """The vendor API the ingestion Lambda pulls: it serves one day's sales at a time."""

    def __init__(self, samples: Path) -> None:
        import threading

        from lakelib.samples._api import make_sample_api

        self.samples = samples
        self.server = make_sample_api(samples, page_size=100)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.serve(DAYS[0])

    def serve(self, day: str) -> None:
        stamp = dt.date.fromisoformat(day).strftime("%Y%m%d")
        folder = self.samples / "sales"
        records: list[Any] = []
        for path in sorted(folder.glob(f"sales_{stamp}.jsonl")):
            records.extend(_load_file(path))
        self.server.records = {**self.server.records, "sales": records}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _load_file(path: Path) -> list[Any]:
    import orjson

    out: list[Any] = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                out.append(line.decode("utf-8", "replace"))
    return out


def sales_file(samples: Path, day: str) -> str:
    return str(samples / "sales" / f"sales_{day.replace('-', '')}.jsonl")


def landing_time(day: str) -> dt.datetime:
    """When the daily run lands a day's sales (the schedule's 02:00 UTC)."""
    return dt.datetime.fromisoformat(f"{day}T02:00:00+00:00")


REFERENCE_TIME = dt.datetime(2025, 12, 31, 12, 0, tzinfo=dt.UTC)


def generate_history(folder: Path) -> Path:
    """The sample sources of the whole history (small: 30 sales a day, the usual dirt)."""
    from lakelib.samples import GeneratorSpec, generate_all

    generate_all(
        folder, GeneratorSpec(start=HISTORY_START, days=HISTORY_DAYS, rows_per_day=30, seed=11)
    )
    return folder


def stand_up(platform: Platform, endpoint: str, workdir: Path) -> Stack:
    """A fresh moto (reset), the platform stood up in it, reference data landed by a user."""
    _moto_api(endpoint, "/moto-api/reset", b"")
    stack = Stack(platform, endpoint, workdir)
    stack.stand_up()
    return stack


def land_history(stack: Stack, samples: Path, *, sales: bool = True) -> None:
    """What a user does once after ``pulumi up`` (aws profile, their own credentials):
    ``lake ingest customers|products``, and the sales history up to the rehearsed days."""
    from lakelib.config import load_settings
    from lakelib.ingest import ingest

    assert stack.admin is not None
    saved = dict(os.environ)
    os.environ.update(
        {
            **stack.admin.env(),
            "AWS_ENDPOINT_URL": stack.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    try:
        env = {
            "LAKE_RAW_BUCKET": stack.bucket("raw"),
            "LAKE_PROCESSED_BUCKET": stack.bucket("processed"),
            "LAKE_CURATED_BUCKET": stack.bucket("curated"),
            "LAKE_SCRIPTS_BUCKET": stack.bucket("scripts"),
            "LAKE_QUERY_RESULTS_BUCKET": stack.bucket("query-results"),
            "LAKE_DATABASE": str(stack.outputs["database"]),
        }
        settings = load_settings(profile="aws", env={**os.environ, **env})
        for source in ("customers", "products"):
            ingest(source, str(samples / source), run_date=REFERENCE_TIME, settings=settings)
        for day in BACKFILLED if sales else ():
            ingest("sales", sales_file(samples, day), run_date=landing_time(day), settings=settings)
        if sales:
            # The crawlers are not played (moto's create no tables): the quarantine table
            # 01_explore reads (quarantine_raw_sales) is cataloged as `lake crawl quarantine`
            # names it, once, for the scheduled notebooks run.
            from lakelib.catalog import crawl
            from lakelib.config import Zone

            crawl(Zone.QUARANTINE, settings=settings)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def variant(
    platform: Platform, edit: Callable[[str, str, dict[str, Any]], dict[str, Any] | None]
) -> Platform:
    """The platform with one declaration changed: ``edit(type, name, inputs)`` returns the
    new inputs, or ``None`` to drop the resource (as if the program no longer declared it)."""
    import copy

    from lake_platform.policies import ResourceRecord

    records = []
    for record in platform.records:
        inputs = edit(record.type, record.name, copy.deepcopy(dict(record.inputs)))
        if inputs is not None:
            records.append(ResourceRecord(record.type, record.name, inputs))
    return Platform(records, dict(platform.outputs), dict(platform.imports))


def without_statement(policy_text: str, sid: str) -> str:
    policy = json.loads(policy_text)
    kept = [s for s in _listed_statements(policy) if s.get("Sid") != sid]
    if len(kept) == len(_listed_statements(policy)):
        raise RehearsalError(f"no statement {sid!r} to drop")
    return json.dumps({**policy, "Statement": kept})
