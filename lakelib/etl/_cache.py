"""Keeping a batch's checked rows for the writes that follow, and letting go of them.

A ``sales_clean`` batch parses and checks its raw JSON once and then reads the result twice
(the quarantine write, the clean merge). How the rows are kept depends on where Spark runs:
in one JVM (``local``) a local checkpoint; on a cluster a cache Spark can recompute.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def keep(frame: DataFrame) -> DataFrame:
    """``frame`` computed once and kept for the actions that follow (free it with
    :func:`release`).

    On a local session: a local checkpoint, the rows stored as they are in the block store
    (memory, spilling to disk); Spark's columnar cache costs more to build than parsing the
    JSON again. On a cluster (Glue, EMR) an executor can be lost, and with it a local
    checkpoint's blocks: there the rows are cached (memory and disk), which Spark recomputes
    from the raw files when blocks go missing.
    """
    if single_jvm(frame.sparkSession):
        return frame.localCheckpoint(eager=True)
    from pyspark import StorageLevel

    return frame.persist(StorageLevel.MEMORY_AND_DISK)


def single_jvm(spark: SparkSession) -> bool:
    """Whether the session runs in this one JVM (``local`` master): no executor to lose."""
    return (spark.sparkContext.master or "").startswith("local")


def release(kept: DataFrame) -> None:
    """Free what :func:`keep` holds now.

    ``DataFrame.unpersist`` does not reach a local checkpoint's blocks (they belong to the
    RDD under the plan, which PySpark does not expose: hence the JVM handle ``_jdf``), and a
    long-lived session (a notebook, the pipeline) would otherwise keep every run's rows until
    the JVM collects that RDD.
    """
    if kept.is_cached:
        kept.unpersist()
        return
    plan = kept._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
    else:  # not expected: the plan of a checkpointed frame is its RDD
        log.debug("not a local checkpoint: %s", plan.getClass().getName())
