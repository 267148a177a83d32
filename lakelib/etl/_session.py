"""The one Spark session factory: the running Glue/EMR session, or a local one for a laptop.

Nothing here runs at import time, and ``pyspark`` itself is imported only when a session
is asked for, so ``import lakelib.etl`` stays cheap.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Settings every lakelib job relies on, wherever it runs (session-level SQL settings, so
# they can be applied to a Glue or EMR session that already exists).
JOB_SQL_CONF: Mapping[str, str] = {
    # Partition values are strings everywhere (Glue types them so; month="01").
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # Replace only the partitions a run writes.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.session.timeZone": "UTC",
    # An unparseable date is a null (then quarantined), never a job failure.
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    # The contract checks, typing and conform fuse into one generated method past the
    # JVM's 8,000-byte JIT limit, which then runs interpreted (3x slower on 1M rows);
    # at this limit Spark splits such a stage into separately compiled operators instead.
    "spark.sql.codegen.hugeMethodLimit": "8000",
    "spark.sql.parquet.compression.codec": "snappy",
    # Parquet files carry no Spark-version metadata that would differ between runs.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # `_SUCCESS` markers are noise to crawlers and DuckDB.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}

# A local session sized for a laptop: no UI, modest memory, small shuffles, fast JVM start.
LOCAL_CONF: Mapping[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes": "64m",
    # Listing a local raw zone (one folder per arrival day) on the driver takes
    # milliseconds; past 32 folders Spark would start a listing job (~1 s per read).
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
}

# The JVM's console logging for local sessions (see the file): silent unless debugging.
_LOG4J2 = "-Dlog4j2.configurationFile=" + Path(__file__).with_name("log4j2.properties").as_uri()

_CLOUD_ENV = ("PYSPARK_GATEWAY_PORT", "GLUE_VERSION", "GLUE_PYTHON_VERSION", "EMR_RELEASE_LABEL")


def running_under_cluster() -> bool:
    """Whether this Python runs inside ``spark-submit``, a Glue job or an EMR step."""
    return any(os.environ.get(name) for name in _CLOUD_ENV)


def get_spark(
    app_name: str = "lakelib",
    *,
    master: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> SparkSession:
    """The Spark session lakelib's jobs run on.

    Returns the active session when there is one (a Glue job, an EMR step, ``spark-submit``,
    a notebook that made its own, or the test suite's), with lakelib's job settings applied.
    Otherwise starts a local session tuned for a laptop: ``local[*]`` (or ``master``),
    adaptive execution, no UI, 2 GiB driver memory, small shuffles (each run resizes them
    to its input), small raw files split four per core, and a JVM that logs nothing to the
    console (``WARN`` and up when the ``lakelib`` logger is at ``DEBUG``, as ``lake --debug``
    sets it): Spark's failures reach the caller as exceptions.

    Parameters
    ----------
    app_name:
        the application name a new session gets.
    master:
        Spark master for a new local session (default ``local[*]``, env ``LAKE_SPARK_MASTER``).
    config:
        extra Spark settings for a new session, applied after lakelib's.

    Examples
    --------
    >>> spark = get_spark()                     # doctest: +SKIP
    >>> spark.conf.get("spark.sql.session.timeZone")   # doctest: +SKIP
    'UTC'
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None and running_under_cluster():
        # spark-submit / Glue / EMR configured the cluster: take what they made.
        active = SparkSession.builder.appName(app_name).getOrCreate()
    if active is not None:
        apply_job_conf(active)
        return active

    from lakelib._java import ensure_java_home

    ensure_java_home()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    chosen = master or os.environ.get("LAKE_SPARK_MASTER") or "local[*]"
    builder = SparkSession.builder.master(chosen).appName(app_name)
    # Raw zones hold many small gzip files (one task reads a whole file); by default Spark
    # packs them into ~128 MB splits, often one short split after the full ones, which
    # leaves a core idle at the end of every scan. Four splits per core keep both busy.
    sizing = {"spark.sql.files.minPartitionNum": str(4 * _local_cores(chosen))}
    settings = {**LOCAL_CONF, **sizing, **JOB_SQL_CONF, **dict(config or {})}
    java_options = str(settings.get("spark.driver.extraJavaOptions", ""))
    if "log4j2.configurationFile" not in java_options:
        settings["spark.driver.extraJavaOptions"] = f"{java_options} {_LOG4J2}".strip()
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    log.info("starting a local Spark session (%s)", chosen)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN" if log.isEnabledFor(logging.DEBUG) else "OFF")
    return session


def _local_cores(master: str) -> int:
    """Threads of a ``local[N]`` / ``local[*]`` master (1 for ``local``; else this machine's)."""
    if not master.startswith("local"):
        return os.cpu_count() or 1
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    if inside.split(",")[0] == "*":
        return os.cpu_count() or 1
    try:
        return max(1, int(inside.split(",")[0]))
    except ValueError:
        return os.cpu_count() or 1


def apply_job_conf(spark: SparkSession) -> None:
    """Set lakelib's session-level SQL settings on a session someone else made."""
    for key, value in JOB_SQL_CONF.items():
        if key.startswith("spark.hadoop."):
            spark.sparkContext._jsc.hadoopConfiguration().set(key[len("spark.hadoop.") :], value)
        else:
            spark.conf.set(key, value)


def size_shuffle(spark: SparkSession, input_bytes: int, *, target_bytes: int = 64 << 20) -> int:
    """Size the run's shuffles to its input: about one partition per ``target_bytes``.

    Compressed JSON grows ~8x in memory, so ``input_bytes`` (on disk) is scaled up. The
    result is at least the session's parallelism and at most 4x it, unless the data is big.
    """
    cores = max(1, spark.sparkContext.defaultParallelism)
    wanted = max(1, (input_bytes * 8) // target_bytes)
    partitions = int(max(min(cores, 2), min(wanted, 2000)))
    if not running_under_cluster() and (spark.sparkContext.master or "").startswith("local"):
        partitions = max(min(partitions, cores * 4), min(cores, 2))
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    return partitions
