"""Glue / EMR ETL helpers: start the same jobs in the cloud and follow them to the end.

The architecture's two transformation options, behind one small interface
(:class:`EtlBackend`): :class:`GlueEtl` starts a Glue job run and polls it; :class:`EmrEtl`
adds the jobs as ``spark-submit`` steps to a running cluster, or starts a transient
cluster that installs lakelib, runs the steps and terminates. Clients come from
:func:`lakelib.aws.client` (so moto server stands in for AWS in tests); poll intervals and
the clock are injectable.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from lakelib.config import Settings, Zone, aws_config_uri
from lakelib.errors import ConfigError, EtlError
from lakelib.etl._jobs import etl_job

log = logging.getLogger(__name__)

GLUE_DONE = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})
EMR_STEP_DONE = frozenset({"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"})
DEFAULT_RELEASE = "emr-7.9.0"
# DPUs per Glue worker, for runs that report workers but no DPU-seconds.
WORKER_DPU = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0, "Z.2X": 2.0}

OnState = Callable[[str], None]


@dataclass
class RemoteRun:
    """One job run in the cloud, as followed to its end."""

    job: str
    engine: str
    run_id: str
    state: str
    job_name: str = ""
    duration_s: float | None = None
    dpu_seconds: float | None = None
    error: str | None = None
    cluster_id: str | None = None
    states: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state in {"SUCCEEDED", "COMPLETED"}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EtlBackend(Protocol):
    """Runs lakelib's ETL jobs somewhere and reports how each run ended."""

    engine: str

    def run(
        self,
        jobs: Sequence[str],
        *,
        full: bool = False,
        since: date | None = None,
        on_state: OnState | None = None,
    ) -> list[RemoteRun]: ...


def job_arguments(full: bool, since: date | None) -> dict[str, str]:
    """The run-specific arguments every job script understands (Glue style)."""
    arguments: dict[str, str] = {}
    if full:
        arguments["--full"] = "true"
    if since is not None:
        arguments["--since"] = since.isoformat()
    return arguments


def stack_output(settings: Settings, name: str) -> Any:
    """A structured stack output (``glue_jobs``, ``private_subnet_ids``) that the flat
    settings outputs leave out; ``None`` when there is no stack outputs file or no such name."""
    import os

    file_name = os.environ.get("LAKE_STACK_OUTPUTS") or settings.config.profiles.aws.stack_outputs
    if not file_name:
        return None
    path = Path(file_name)
    path = path if path.is_absolute() else settings.project_root / path
    try:
        return json.loads(path.read_text()).get(name)
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


def _stack_output_mapping(settings: Settings, name: str) -> Mapping[str, str]:
    value = stack_output(settings, name)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def glue_job_name(job: str, settings: Settings) -> str:
    """Physical Glue job name: ``[etl.glue_jobs]``, else the stack's ``glue_jobs``, else ``job``."""
    names = settings.config.etl.glue_jobs
    if job in names:
        return names[job]
    return _stack_output_mapping(settings, "glue_jobs").get(job, job)


class _Follower:
    """What the Glue and EMR backends share: a lazily made client, injectable polling."""

    engine = ""

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any = None,
        poll_interval: float = 15.0,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._client = client
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            from lakelib.aws import client

            self._client = client(self.engine, region=self.settings.region)
        return self._client

    @staticmethod
    def _note_state(run: RemoteRun, state: str, on_state: OnState | None, label: str) -> None:
        """Record a state change once, and tell the caller."""
        if not run.states or run.states[-1] != state:
            run.states.append(state)
            if on_state is not None:
                on_state(f"{label}: {state}")
        run.state = state

    def _follow(
        self,
        run: RemoteRun,
        describe: Callable[[], tuple[str, Mapping[str, Any]]],
        finish: Callable[[RemoteRun, Mapping[str, Any]], None],
        *,
        done: frozenset[str],
        label: str,
        goes_on: str,
        on_state: OnState | None,
    ) -> RemoteRun:
        """Poll ``describe`` (-> state, details) until the state is in ``done`` (then
        ``finish`` fills in the run) or ``timeout`` passes (``goes_on`` says where it runs on)."""
        began = self.clock()
        while True:
            state, info = describe()
            self._note_state(run, state, on_state, label)
            if state in done:
                finish(run, info)
                return run
            if self.timeout is not None and self.clock() - began > self.timeout:
                run.error = f"still {state} after {self.timeout:g} s ({goes_on})"
                return run
            self.sleep(self.poll_interval)


def _glue_finish(run: RemoteRun, info: Mapping[str, Any]) -> None:
    """Duration, DPU-seconds (from the capacity when Glue reports none) and error of a run."""
    run.duration_s = float(info.get("ExecutionTime") or 0)
    dpu = info.get("DPUSeconds")
    if dpu is None:
        capacity = info.get("MaxCapacity") or info.get("AllocatedCapacity")
        if not capacity and info.get("NumberOfWorkers"):
            per_worker = WORKER_DPU.get(str(info.get("WorkerType")), 1.0)
            capacity = float(info["NumberOfWorkers"]) * per_worker
        dpu = float(capacity) * run.duration_s if capacity else None
    run.dpu_seconds = float(dpu) if dpu is not None else None
    run.error = info.get("ErrorMessage")


def _emr_finish(run: RemoteRun, status: Mapping[str, Any]) -> None:
    """Duration and failure message of a finished step."""
    timeline = status.get("Timeline", {})
    start, end = timeline.get("StartDateTime"), timeline.get("EndDateTime")
    if start is not None and end is not None:
        run.duration_s = (end - start).total_seconds()
    failure = status.get("FailureDetails") or {}
    run.error = failure.get("Message") or failure.get("Reason")


class GlueEtl(_Follower):
    """Start Glue job runs and follow them: state, duration, DPU-seconds, error message.

    Parameters
    ----------
    settings:
        aws-profile settings (job names come from ``[etl.glue_jobs]`` or the stack outputs).
    client:
        a Glue client (default ``lakelib.aws.client("glue")``).
    poll_interval:
        seconds between ``get_job_run`` calls.
    timeout:
        give up following after this many seconds (the run keeps going in Glue).
    """

    engine = "glue"

    def start(self, job: str, arguments: Mapping[str, str]) -> tuple[str, str]:
        """Start one run; returns ``(glue job name, run id)``."""
        from botocore.exceptions import BotoCoreError, ClientError

        name = glue_job_name(job, self.settings)
        try:
            response = self.client.start_job_run(JobName=name, Arguments=dict(arguments))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "EntityNotFoundException":
                raise EtlError(
                    f"no Glue job {name!r} for {job}: deploy it (infra glueJobs) or name it in "
                    f'[etl.glue_jobs] {job} = "..."'
                ) from exc
            raise EtlError(f"cannot start Glue job {name}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise EtlError(f"cannot start Glue job {name}: {exc}") from exc
        return name, str(response["JobRunId"])

    def follow(
        self, job: str, name: str, run_id: str, on_state: OnState | None = None
    ) -> RemoteRun:
        """Poll ``get_job_run`` until the run ends (or ``timeout``)."""
        from botocore.exceptions import BotoCoreError, ClientError

        run = RemoteRun(job, self.engine, run_id, "STARTING", job_name=name)

        def describe() -> tuple[str, Mapping[str, Any]]:
            try:
                info = self.client.get_job_run(JobName=name, RunId=run_id)["JobRun"]
            except (ClientError, BotoCoreError) as exc:
                raise EtlError(f"cannot follow Glue job run {name}/{run_id}: {exc}") from exc
            return str(info.get("JobRunState", "UNKNOWN")), info

        return self._follow(
            run,
            describe,
            _glue_finish,
            done=GLUE_DONE,
            label=f"glue {name} {run_id[:12]}",
            goes_on="the run goes on in Glue",
            on_state=on_state,
        )

    def run(
        self,
        jobs: Sequence[str],
        *,
        full: bool = False,
        since: date | None = None,
        on_state: OnState | None = None,
    ) -> list[RemoteRun]:
        """Run ``jobs`` one after the other; stop at the first that does not succeed."""
        results = []
        for job in jobs:
            name, run_id = self.start(job, job_arguments(full, since))
            result = self.follow(job, name, run_id, on_state)
            results.append(result)
            if not result.succeeded:
                break
        return results


def lake_arguments(settings: Settings, job: str) -> list[str]:
    """The names a job script needs on EMR (Glue gets them as the job's default arguments)."""
    args = ["--JOB_NAME", job, "--database", settings.database]
    for key in ("raw_bucket", "processed_bucket", "curated_bucket", "scripts_bucket"):
        if settings.outputs.get(key):
            args += [f"--{key}", settings.outputs[key]]
    if settings.region:
        args += ["--region", settings.region]
    # Where the Pulumi program uploads the workspace config (not beside the job scripts).
    args += ["--LAKE_CONFIG", aws_config_uri(settings)]
    return args


class EmrEtl(_Follower):
    """Run the jobs as EMR steps: on a running cluster, or on a transient one.

    Parameters
    ----------
    settings:
        aws-profile settings (scripts bucket, roles, subnet from the stack outputs).
    cluster_id:
        a running cluster (default: the stack output ``emr_cluster_id``); ignored when
        ``transient``.
    transient:
        start a cluster that bootstraps lakelib (``jobs/emr_bootstrap.sh`` installs the wheel
        from the scripts bucket), runs the steps and terminates.
    """

    engine = "emr"

    def __init__(
        self,
        settings: Settings,
        *,
        cluster_id: str | None = None,
        transient: bool = False,
        client: Any = None,
        poll_interval: float = 30.0,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            settings,
            client=client,
            poll_interval=poll_interval,
            timeout=timeout,
            sleep=sleep,
            clock=clock,
        )
        self.cluster_id = cluster_id or settings.outputs.get("emr_cluster_id")
        self.transient = transient

    def step(self, job: str, *, full: bool = False, since: date | None = None) -> dict[str, Any]:
        """The ``spark-submit`` step of one job, the very script Glue runs."""
        scripts = self.settings.store(Zone.SCRIPTS)
        extra = [item for pair in job_arguments(full, since).items() for item in pair]
        return {
            "Name": f"lakelib {job}",
            "ActionOnFailure": "TERMINATE_CLUSTER" if self.transient else "CONTINUE",
            "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": [
                    "spark-submit",
                    "--deploy-mode",
                    "cluster",
                    scripts.url(etl_job(job).script),
                    *lake_arguments(self.settings, job),
                    *extra,
                ],
            },
        }

    def cluster_spec(self, steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """``run_job_flow`` arguments of a transient cluster running ``steps``."""
        cfg = self.settings.config.etl.emr
        outputs = self.settings.outputs
        scripts = self.settings.store(Zone.SCRIPTS)
        wheel = cfg.wheel or self._find_wheel()
        subnets = stack_output(self.settings, "private_subnet_ids") or list(cfg.subnet_ids)
        instances: dict[str, Any] = {
            "MasterInstanceType": cfg.primary_instance_type or "m5.xlarge",
            "SlaveInstanceType": cfg.core_instance_type or "m5.large",
            "InstanceCount": 1 + (cfg.core_count or 2),
            "KeepJobFlowAliveWhenNoSteps": False,
            "TerminationProtected": False,
        }
        if isinstance(subnets, list) and subnets:
            instances["Ec2SubnetId"] = str(subnets[0])
        instance_profile = outputs.get("emr_instance_profile_arn", "EMR_EC2_DefaultRole")
        return {
            "Name": f"lakelib-etl-{int(time.time())}",
            "ReleaseLabel": cfg.release_label or DEFAULT_RELEASE,
            "Applications": [{"Name": "Spark"}, {"Name": "Hadoop"}],
            "Instances": instances,
            "BootstrapActions": [
                {
                    "Name": "install lakelib",
                    "ScriptBootstrapAction": {
                        "Path": scripts.url("emr_bootstrap.sh"),
                        "Args": [wheel],
                    },
                }
            ],
            "Steps": list(steps),
            "ServiceRole": outputs.get("emr_service_role_arn", "EMR_DefaultRole"),
            "JobFlowRole": instance_profile.rsplit("/", 1)[-1],
            "VisibleToAllUsers": True,
            "Configurations": [
                {
                    "Classification": "spark-hive-site",
                    "Properties": {
                        "hive.metastore.client.factory.class": (
                            "com.amazonaws.glue.catalog.metastore."
                            "AWSGlueDataCatalogHiveClientFactory"
                        )
                    },
                }
            ],
            "Tags": [{"Key": "lakelib", "Value": "etl"}],
        }

    def _find_wheel(self) -> str:
        """The newest ``lakelib-*.whl`` infra uploaded to the scripts zone's ``lib/``."""
        scripts = self.settings.store(Zone.SCRIPTS)
        wheels = [
            info
            for info in scripts.list("lib/")
            if info.key.rsplit("/", 1)[-1].startswith("lakelib-") and info.key.endswith(".whl")
        ]
        if not wheels:
            raise ConfigError(
                f"no lakelib wheel under {scripts.url('lib/')} for the transient cluster: "
                'deploy one (infra lakelibWheel) or set [etl.emr] wheel = "s3://..."'
            )
        return scripts.url(max(wheels, key=lambda info: info.modified).key)

    def submit(
        self, jobs: Sequence[str], *, full: bool = False, since: date | None = None
    ) -> tuple[str, list[str]]:
        """Add the steps (or start the transient cluster); returns ``(cluster id, step ids)``."""
        from botocore.exceptions import BotoCoreError, ClientError

        steps = [self.step(job, full=full, since=since) for job in jobs]
        try:
            if self.transient:
                cluster = str(self.client.run_job_flow(**self.cluster_spec(steps))["JobFlowId"])
                listed = self.client.list_steps(ClusterId=cluster)["Steps"]
                by_name = {s["Name"]: s["Id"] for s in listed}
                return cluster, [by_name[s["Name"]] for s in steps]
            if not self.cluster_id:
                raise ConfigError(
                    "no EMR cluster to run on: pass --cluster-id, deploy one (infra emr.enabled, "
                    "stack output emr_cluster_id) or use --transient"
                )
            response = self.client.add_job_flow_steps(JobFlowId=self.cluster_id, Steps=steps)
            return self.cluster_id, [str(s) for s in response["StepIds"]]
        except (ClientError, BotoCoreError) as exc:
            raise EtlError(f"cannot submit EMR steps: {exc}") from exc

    def follow(
        self, cluster: str, job: str, step_id: str, on_state: OnState | None = None
    ) -> RemoteRun:
        """Poll ``describe_step`` until the step ends (or ``timeout``)."""
        from botocore.exceptions import BotoCoreError, ClientError

        run = RemoteRun(job, self.engine, step_id, "PENDING", job_name=job, cluster_id=cluster)

        def describe() -> tuple[str, Mapping[str, Any]]:
            try:
                step = self.client.describe_step(ClusterId=cluster, StepId=step_id)["Step"]
            except (ClientError, BotoCoreError) as exc:
                raise EtlError(f"cannot follow EMR step {cluster}/{step_id}: {exc}") from exc
            status = step["Status"]
            return str(status.get("State", "UNKNOWN")), status

        return self._follow(
            run,
            describe,
            _emr_finish,
            done=EMR_STEP_DONE,
            label=f"emr {cluster} {job}",
            goes_on="the step goes on in EMR",
            on_state=on_state,
        )

    def run(
        self,
        jobs: Sequence[str],
        *,
        full: bool = False,
        since: date | None = None,
        on_state: OnState | None = None,
    ) -> list[RemoteRun]:
        cluster, step_ids = self.submit(jobs, full=full, since=since)
        if on_state is not None:
            kind = "transient cluster" if self.transient else "cluster"
            on_state(f"emr: {len(step_ids)} step(s) on {kind} {cluster}")
        results = []
        for job, step_id in zip(jobs, step_ids, strict=True):
            result = self.follow(cluster, job, step_id, on_state)
            results.append(result)
            if not result.succeeded:
                break
        return results


def open_backend(
    settings: Settings,
    engine: str = "glue",
    *,
    cluster_id: str | None = None,
    transient: bool = False,
    poll_interval: float | None = None,
) -> EtlBackend:
    """The cloud backend for ``engine`` (``glue`` or ``emr``)."""
    # ``is None``, not ``or``: a poll interval of 0 (poll at once) is a valid choice.
    if engine == "glue":
        return GlueEtl(settings, poll_interval=15.0 if poll_interval is None else poll_interval)
    if engine == "emr":
        return EmrEtl(
            settings,
            cluster_id=cluster_id,
            transient=transient,
            poll_interval=30.0 if poll_interval is None else poll_interval,
        )
    raise ConfigError(f"unknown ETL engine {engine!r} (use local, glue or emr)")
