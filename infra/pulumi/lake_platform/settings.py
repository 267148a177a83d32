"""Everything the program needs to know before it creates a resource, read in one place.

Names shared with the library (catalog database, Athena workgroups and their scan cutoffs)
come from the workspace's ``lake.toml``, so the platform and ``lakelib`` cannot disagree;
stack config (``Pulumi.<stack>.yaml``) may override them. Every other knob is stack config
with the default written here, once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lake_platform.layout import SKLEARN_IMAGE_REGISTRIES, SKLEARN_IMAGE_REPOSITORY

# Defaults that mirror lakelib's own (lakelib/config/_settings.py); lake.toml normally wins.
DEFAULT_DATABASE = "data_lake_db"
DEFAULT_WORKGROUPS = ("primary", "analytics", "ml_data")

# Reference sources: snapshots the ETL joins on every run (lakelib.etl REFERENCES).
DEFAULT_REFERENCE_SOURCES = ("customers", "products")

# Buckets of the platform, keyed by the zone name used in resource names and stack outputs.
# ``logs`` receives S3 access logs and VPC flow logs; ``trail`` the CloudTrail log files (a
# bucket of its own: S3 access logs cannot land in a bucket with Object Lock retention).
BUCKET_ZONES = ("raw", "processed", "curated", "scripts", "query-results", "logs", "trail")

# Athena bills per TB scanned; the daily-cost alarm converts a dollar budget to bytes.
ATHENA_USD_PER_TB = 5.0
BYTES_PER_TB = 10**12

# QuickSight needs the column list of each Athena table it imports. These mirror the tables
# lakelib's ETL writes (DESIGN.md); stack config ``reporting.datasets`` replaces them.
DEFAULT_REPORT_DATASETS: Mapping[str, Sequence[tuple[str, str]]] = {
    "sales_clean": (
        ("order_id", "STRING"),
        ("customer_id", "STRING"),
        ("product_id", "STRING"),
        ("region", "STRING"),
        ("quantity", "INTEGER"),
        ("unit_price", "DECIMAL"),
        ("amount", "DECIMAL"),
        ("order_ts", "DATETIME"),
        ("year", "STRING"),
        ("month", "STRING"),
        ("day", "STRING"),
    ),
    "customer_aggregates": (
        ("customer_id", "STRING"),
        ("region", "STRING"),
        ("orders", "INTEGER"),
        ("total_amount", "DECIMAL"),
        ("avg_order_value", "DECIMAL"),
        ("first_order_ts", "DATETIME"),
        ("last_order_ts", "DATETIME"),
    ),
}


class ConfigSource(Protocol):
    """The part of :class:`pulumi.Config` the loader uses (a dict-backed fake works in tests)."""

    def get(self, key: str) -> str | None: ...

    def get_int(self, key: str) -> int | None: ...

    def get_float(self, key: str) -> float | None: ...

    def get_bool(self, key: str) -> bool | None: ...

    def get_object(self, key: str) -> Any: ...


class PlatformConfigError(ValueError):
    """Stack config or ``lake.toml`` that the program cannot build a platform from."""


@dataclass(frozen=True)
class WorkgroupSpec:
    """An Athena workgroup as ``lake.toml`` declares it."""

    name: str
    bytes_scanned_cutoff: int | None
    description: str = ""


@dataclass(frozen=True)
class GlueJobSpec:
    """One Glue Spark job; its script is ``<jobs_dir>/<script>``."""

    name: str
    script: str
    description: str = ""
    worker_type: str = "G.1X"
    max_workers: int = 10
    timeout_minutes: int = 120
    arguments: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EmrSpec:
    """The optional EMR cluster for large ETL, streaming and feature engineering."""

    enabled: bool = False
    release_label: str = "emr-7.9.0"
    applications: tuple[str, ...] = ("Spark", "Hadoop", "Hive", "Livy")
    primary_instance_type: str = "m5.xlarge"
    core_instance_type: str = "m5.large"
    core_min: int = 2
    core_max: int = 5
    task_instance_type: str = "m5.large"
    task_spot_max: int = 5
    # Spot price ceiling in USD/hour; the m5.large on-demand price keeps spot never dearer.
    task_bid_price: str = "0.096"
    idle_timeout_seconds: int = 3600


@dataclass(frozen=True)
class IngestSpec:
    """The ingestion Lambda and what calls it."""

    handler: str = "lakelib.ingest.handler"
    source_name: str = "sales"
    source_api_endpoint: str = ""
    log_level: str = "INFO"
    schedule: str = "cron(0 2 * * ? *)"
    memory_mb: int = 512
    timeout_seconds: int = 300
    reserved_concurrency: int = 10
    layers: tuple[str, ...] = ()
    # A folder of third-party packages built for Lambda (lakelib's ingestion needs orjson),
    # bundled next to lakelib: `pip install orjson -t <dir> --platform manylinux2014_x86_64
    # --only-binary=:all:`. Relative to the program folder; empty means "use layers".
    dependencies_dir: str = ""
    webhook: bool = False
    # Raw files arriving within this window start one crawler run (Glue event batching).
    event_batch_size: int = 100
    event_batch_window_seconds: int = 900


@dataclass(frozen=True)
class ReplicationSpec:
    """Cross-region replication of the critical zones (DR: RPO < 24 h)."""

    region: str
    zones: tuple[str, ...] = ("raw", "processed")


@dataclass(frozen=True)
class ReportingSpec:
    """QuickSight on Athena: optional because QuickSight needs an account subscription."""

    enabled: bool = False
    principal_arn: str = ""
    workgroup: str = "analytics"
    refresh_time: str = "06:00"
    refresh_timezone: str = "UTC"
    datasets: Mapping[str, Sequence[tuple[str, str]]] = field(
        default_factory=lambda: dict(DEFAULT_REPORT_DATASETS)
    )


@dataclass(frozen=True)
class StudioSpec:
    """The optional SageMaker Studio layer (``sagemakerStudio``): a VPC-only domain, one user
    profile, its execution role and the lifecycle configuration that installs lakelib."""

    enabled: bool = False
    user_profile: str = "data-scientist"
    # The JupyterLab space's default instance and image; the wheelhouse is built for CPython
    # 3.11, so the image must run Python 3.11. Empty image: the region's SageMaker
    # Distribution, version alias "2" (studio.space_image).
    instance_type: str = "ml.t3.medium"
    image_arn: str = ""
    image_version_alias: str = ""


@dataclass(frozen=True)
class MonitoringSpec:
    """Alarm thresholds and where alerts go."""

    alert_emails: tuple[str, ...] = ()
    lambda_error_rate_percent: float = 5.0
    bucket_size_alarm_bytes: int = 1_000_000_000_000
    athena_daily_budget_usd: float = 100.0
    metrics_namespace: str = "lakelib"
    # Stage metrics (EMF) carry exactly the dimensions Pipeline and Stage (lakelib.monitor
    # DIMENSIONS): the daily pipeline's name and the stages that report them.
    pipeline: str = "daily"
    stages: tuple[str, ...] = ("ingest", "etl", "curate", "train", "transform", "report")

    @property
    def athena_daily_bytes(self) -> int:
        """Bytes Athena may scan in a day before the cost alarm fires."""
        return int(self.athena_daily_budget_usd / ATHENA_USD_PER_TB * BYTES_PER_TB)


@dataclass(frozen=True)
class ObjectLockSpec:
    """S3 Object Lock default retention on raw (the system of record) and the trail bucket."""

    # GOVERNANCE: principals granted s3:BypassGovernanceRetention can still remove a version
    # (a documented break-glass); COMPLIANCE would bind even the account root for the period.
    mode: str = "GOVERNANCE"
    raw_days: int = 30
    trail_days: int = 90


@dataclass(frozen=True)
class DetectiveSpec:
    """Account-level detective controls (off by default: they are per account and region,
    and a second stack in the same account would fight over them)."""

    enabled: bool = False
    guard_duty: bool = True
    security_hub: bool = True
    config_recorder: bool = True
    # Create AWS Config's service-linked role; false where it exists already (AWS makes it
    # once per account: a second create fails).
    config_service_linked_role: bool = True
    access_analyzer: bool = True


# The sagemaker-scikit-learn images (repository, ECR registry account per region): the only
# images the SageMaker role may pull; lakelib builds its image URIs from the same table.
SAGEMAKER_IMAGE_REPOSITORY = SKLEARN_IMAGE_REPOSITORY
SAGEMAKER_IMAGE_REGISTRIES: Mapping[str, str] = SKLEARN_IMAGE_REGISTRIES

# Interface endpoints of the private subnets: what Glue jobs (now inside the VPC), SageMaker
# and the notebook call besides S3 (gateway endpoint), with no NAT to reach anything else.
DEFAULT_INTERFACE_ENDPOINTS = ("glue", "athena", "logs", "monitoring", "kms", "sts", "sns")


@dataclass(frozen=True)
class PlatformSettings:
    """The resolved settings of one stack."""

    project: str
    stack: str
    account_id: str
    region: str
    program_dir: Path
    name_prefix: str
    database: str
    workgroups: Mapping[str, WorkgroupSpec]
    bucket_names: Mapping[str, str]
    adopt_workgroups: tuple[str, ...] = ("primary",)
    raw_glacier_days: int = 90
    # Raw prefixes (one per source) that move to Glacier: the sources lake.toml declares,
    # minus the reference snapshots the ETL keeps reading (customers/products are landed
    # once and joined on every run; an archived snapshot would fail the ETL and --full).
    raw_archived_sources: tuple[str, ...] = ()
    raw_reference_sources: tuple[str, ...] = DEFAULT_REFERENCE_SOURCES
    processed_expire_days: int = 365
    query_results_expire_days: int = 30
    logs_expire_days: int = 365
    analyst_principals: tuple[str, ...] = ()
    replication: ReplicationSpec | None = None
    vpc_cidr: str = "10.40.0.0/16"
    az_count: int = 2
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    trail_data_events: bool = True
    object_lock: ObjectLockSpec = field(default_factory=ObjectLockSpec)
    detective: DetectiveSpec = field(default_factory=DetectiveSpec)
    # IAM principals (role/user ARNs) that administer the stack's KMS keys without being
    # able to use them; empty: the principal running `pulumi up`.
    key_administrators: tuple[str, ...] = ()
    # ECR repositories the SageMaker role may pull from; empty: the region's scikit-learn one.
    sagemaker_image_repositories: tuple[str, ...] = ()
    # Objects outside the stack's buckets that workloads in the VPC must read through the S3
    # endpoint (ARNs, e.g. an AWS-owned bucket a runtime fetches from); the endpoint policy
    # admits nothing else.
    s3_endpoint_reads: tuple[str, ...] = ()
    glue_version: str = "5.0"
    glue_jobs: tuple[GlueJobSpec, ...] = ()
    jobs_dir: Path = Path("jobs")
    # The workspace config, uploaded to ``config/lake.toml`` of the scripts bucket and named
    # by ``LAKE_CONFIG`` in every Lambda, Glue job, EMR step and pipeline stage.
    lake_toml: Path = Path("lake.toml")
    # Prebuilt wheels (``build_artifacts.py``): lakelib's wheel and one ``*.gluewheels.zip``
    # holding lakelib and every dependency, so no job reaches a package index at start.
    wheelhouse: Path | None = None
    lakelib_source: Path = Path("lakelib")
    state_machine_file: Path = Path("state_machine.json")
    emr: EmrSpec = field(default_factory=EmrSpec)
    ingest: IngestSpec = field(default_factory=IngestSpec)
    ml_mode: str = "notebook"
    studio: StudioSpec = field(default_factory=StudioSpec)
    reporting: ReportingSpec = field(default_factory=ReportingSpec)
    monitoring: MonitoringSpec = field(default_factory=MonitoringSpec)
    tags: Mapping[str, str] = field(default_factory=dict)

    def resource_name(self, suffix: str) -> str:
        """Physical name of a named AWS resource: ``<prefix>-<suffix>``."""
        return f"{self.name_prefix}-{suffix}"

    @property
    def deploys_state_machine(self) -> bool:
        """The pipeline (state machine + its stage job) is deployed when its definition exists."""
        return self.state_machine_file.is_file()

    @property
    def alerts_topic_name(self) -> str:
        return self.resource_name("alerts")

    @property
    def alerts_topic_arn(self) -> str:
        """Known before the topic exists, so layers built earlier can be allowed to publish."""
        return f"arn:aws:sns:{self.region}:{self.account_id}:{self.alerts_topic_name}"


def read_lake_toml(path: Path) -> dict[str, Any]:
    """The workspace config, or ``{}`` when the program is deployed without the repo around it."""
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise PlatformConfigError(f"{where} must be a positive integer, got {value!r}")
    return int(value)


def _workgroups(
    document: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, WorkgroupSpec]:
    table = dict(document.get("workgroups", {}))
    for name, spec in overrides.items():
        table[name] = {**table.get(name, {}), **_snake(spec)}
    names = [n for n in DEFAULT_WORKGROUPS] + [n for n in table if n not in DEFAULT_WORKGROUPS]
    groups = {}
    for name in names:
        spec = table.get(name, {})
        cutoff = spec.get("bytes_scanned_cutoff")
        groups[name] = WorkgroupSpec(
            name=name,
            bytes_scanned_cutoff=None
            if cutoff is None
            else _positive_int(cutoff, f"workgroups.{name}.bytes_scanned_cutoff"),
            description=str(spec.get("description", "")),
        )
    return groups


def _snake(spec: Any) -> dict[str, Any]:
    """Stack config is camelCase by Pulumi convention; lake.toml is snake_case."""
    if not isinstance(spec, Mapping):
        raise PlatformConfigError(f"expected an object, got {spec!r}")
    out = {}
    for key, value in spec.items():
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in str(key))
        out[snake] = value
    return out


def _glue_jobs(raw: Any) -> tuple[GlueJobSpec, ...]:
    """``["sales_clean"]`` or ``[{"name": "sales_clean", "maxWorkers": 6, ...}]``."""
    jobs = []
    for item in raw or []:
        spec = {"name": item} if isinstance(item, str) else _snake(item)
        name = str(spec.get("name", ""))
        if not name:
            raise PlatformConfigError(f"glueJobs entry without a name: {item!r}")
        max_workers = _positive_int(spec.get("max_workers", 10), f"glueJobs.{name}.maxWorkers")
        if not 2 <= max_workers <= 10:
            raise PlatformConfigError(f"glueJobs.{name}.maxWorkers must be 2..10 (the design)")
        jobs.append(
            GlueJobSpec(
                name=name,
                script=str(spec.get("script", f"{name}.py")),
                description=str(spec.get("description", "")),
                worker_type=str(spec.get("worker_type", "G.1X")),
                max_workers=max_workers,
                timeout_minutes=_positive_int(
                    spec.get("timeout_minutes", 120), f"glueJobs.{name}.timeoutMinutes"
                ),
                arguments={str(k): str(v) for k, v in (spec.get("arguments") or {}).items()},
            )
        )
    return tuple(jobs)


def _dataclass_from(cls: type, raw: Any, where: str) -> Any:
    """Build a spec dataclass from a camelCase stack-config object, rejecting unknown keys."""
    if raw is None:
        return cls()
    values = _snake(raw)
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise PlatformConfigError(f"{where}: unknown keys {unknown} (known: {sorted(known)})")
    for key, value in list(values.items()):
        if isinstance(value, list):
            values[key] = tuple(value)
    return cls(**values)


def _resolve(program_dir: Path, value: str | None, default: str) -> Path:
    path = Path(value or default).expanduser()
    return path if path.is_absolute() else (program_dir / path).resolve()


def load_settings(
    config: ConfigSource,
    *,
    project: str,
    stack: str,
    account_id: str,
    region: str,
    program_dir: Path,
) -> PlatformSettings:
    """Resolve stack config over ``lake.toml`` over the defaults above."""
    lake_toml = _resolve(program_dir, config.get("lakeToml"), "../../lake.toml")
    document = read_lake_toml(lake_toml)
    catalog = document.get("catalog", {})
    database = config.get("database") or catalog.get("database") or DEFAULT_DATABASE
    workgroups = _workgroups(document, config.get_object("workgroups") or {})

    prefix = (config.get("namePrefix") or f"lake-{stack}").lower()
    overrides = config.get_object("bucketNames") or {}
    unknown = sorted(set(overrides) - set(BUCKET_ZONES))
    if unknown:
        raise PlatformConfigError(f"bucketNames: unknown zones {unknown} (known: {BUCKET_ZONES})")
    bucket_names = {
        zone: str(overrides.get(zone) or f"{prefix}-{zone}-{account_id}") for zone in BUCKET_ZONES
    }
    for zone, name in bucket_names.items():
        if not 3 <= len(name) <= 63 or name != name.lower():
            raise PlatformConfigError(f"bucket name for {zone} is not a valid S3 name: {name!r}")

    replication_raw = config.get_object("replication")
    replication = None
    if replication_raw:
        replication = _dataclass_from(ReplicationSpec, replication_raw, "replication")
        bad = sorted(set(replication.zones) - {"raw", "processed", "curated"})
        if bad:
            raise PlatformConfigError(f"replication.zones: cannot replicate {bad}")

    monitoring = _dataclass_from(MonitoringSpec, config.get_object("monitoring"), "monitoring")
    reporting_raw = _snake(config.get_object("reporting") or {})
    if "datasets" in reporting_raw:
        reporting_raw["datasets"] = {
            table: tuple((str(c["name"]), str(c["type"])) for c in columns)
            for table, columns in reporting_raw["datasets"].items()
        }
    reporting = ReportingSpec(**reporting_raw)
    if reporting.enabled and not reporting.principal_arn:
        raise PlatformConfigError(
            "reporting.enabled needs reporting.principalArn (a QuickSight user)"
        )
    if reporting.workgroup not in workgroups:
        raise PlatformConfigError(f"reporting.workgroup {reporting.workgroup!r} is not a workgroup")

    wheelhouse = config.get("wheelhouse")
    references = tuple(config.get_object("rawReferenceSources") or DEFAULT_REFERENCE_SOURCES)
    archived = tuple(s for s in document.get("sources", {}) if s not in references)
    ml_mode = config.get("mlMode") or "notebook"
    if ml_mode not in {"notebook", "domain", "none"}:
        raise PlatformConfigError(f"mlMode must be notebook, domain or none, got {ml_mode!r}")
    studio = _dataclass_from(StudioSpec, config.get_object("sagemakerStudio"), "sagemakerStudio")
    if studio.enabled and ml_mode == "domain":
        raise PlatformConfigError(
            "sagemakerStudio.enabled and mlMode: domain both create a Studio domain: use one"
        )

    object_lock = _dataclass_from(ObjectLockSpec, config.get_object("objectLock"), "objectLock")
    if object_lock.mode not in {"GOVERNANCE", "COMPLIANCE"}:
        raise PlatformConfigError(
            f"objectLock.mode must be GOVERNANCE or COMPLIANCE, got {object_lock.mode!r}"
        )
    for what, days in (("rawDays", object_lock.raw_days), ("trailDays", object_lock.trail_days)):
        if not isinstance(days, int) or days < 1:
            raise PlatformConfigError(f"objectLock.{what} must be a positive number of days")

    return PlatformSettings(
        project=project,
        stack=stack,
        account_id=account_id,
        region=region,
        program_dir=program_dir,
        name_prefix=prefix,
        database=str(database),
        workgroups=workgroups,
        bucket_names=bucket_names,
        adopt_workgroups=tuple(config.get_object("adoptWorkgroups") or ("primary",)),
        raw_glacier_days=config.get_int("rawGlacierDays") or 90,
        raw_archived_sources=archived,
        raw_reference_sources=references,
        processed_expire_days=config.get_int("processedExpireDays") or 365,
        query_results_expire_days=config.get_int("queryResultsExpireDays") or 30,
        logs_expire_days=config.get_int("logsExpireDays") or 365,
        analyst_principals=tuple(config.get_object("analystPrincipals") or ()),
        replication=replication,
        vpc_cidr=config.get("vpcCidr") or "10.40.0.0/16",
        az_count=config.get_int("azCount") or 2,
        interface_endpoints=tuple(
            config.get_object("interfaceEndpoints") or DEFAULT_INTERFACE_ENDPOINTS
        ),
        trail_data_events=config.get_bool("trailDataEvents") is not False,
        object_lock=object_lock,
        detective=_dataclass_from(DetectiveSpec, config.get_object("detective"), "detective"),
        key_administrators=tuple(config.get_object("keyAdministrators") or ()),
        sagemaker_image_repositories=tuple(config.get_object("sagemakerImageRepositories") or ()),
        s3_endpoint_reads=tuple(config.get_object("s3EndpointReads") or ()),
        glue_version=config.get("glueVersion") or "5.0",
        glue_jobs=_glue_jobs(config.get_object("glueJobs")),
        jobs_dir=_resolve(program_dir, config.get("jobsDir"), "../../jobs"),
        lake_toml=lake_toml,
        wheelhouse=_resolve(program_dir, wheelhouse, "../../build/wheelhouse"),
        lakelib_source=_resolve(program_dir, config.get("lakelibSource"), "../../lakelib"),
        state_machine_file=_resolve(
            program_dir, config.get("stateMachineFile"), "state_machine.json"
        ),
        emr=_dataclass_from(EmrSpec, config.get_object("emr"), "emr"),
        ingest=_dataclass_from(IngestSpec, config.get_object("ingest"), "ingest"),
        ml_mode=ml_mode,
        studio=studio,
        reporting=reporting,
        monitoring=monitoring,
        tags={"project": project, "stack": stack, **(config.get_object("tags") or {})},
    )
