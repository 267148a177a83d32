"""The ``curate`` job: ``sales_clean`` -> ``customer_aggregates``, ``daily_sales``,
``product_performance`` in the curated zone, incrementally.

A run finds the ``sales_clean`` partitions (event days) that changed since the last curate
by comparing their files (names, sizes, times) with the list it kept then; a ``sales_clean``
batch, a late row, a correction that moved an order to another day, a full rebuild: each
shows as changed days. It then recomputes only what those days touch:

- ``daily_sales``: the changed days, from those days' rows (partition pruning); days left
  with no rows are removed;
- ``customer_aggregates`` / ``product_performance``: the customers and products that have a
  row in a changed day now *or had one there at the last curate* (a kept index of the keys of
  each day: a correction may take a customer's only order away), each from all of its rows;
  the other rows are kept as stored. ``as_of`` and what is counted to it (recency, tenure)
  and the products' category ranks are then recomputed over the small table.

Every figure is a function of the set of rows alone (see :mod:`lakelib.etl._curate`), so an
incremental run writes the same bytes a full recompute (``full=True``, or the first run, or
a lost state) writes. The state -- ``runs/etl/curate/state/manifest.json`` and the key index
``state/keys/<run_id>/year=/month=/day=`` -- is written after the tables, so a run that
fails leaves the previous state, and the next run redoes the same days.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import EtlError, NotFoundError
from lakelib.etl._curate import (
    AS_OF_COLUMNS,
    INPUT_COLUMNS,
    RANK_COLUMNS,
    customer_aggregates,
    customer_rows,
    daily_sales,
    product_performance,
    product_rows,
    rank_products,
    with_as_of,
)
from lakelib.etl._jobs import ETL_JOBS
from lakelib.etl._record import EtlRun, recorded
from lakelib.etl._sales_clean import SalesCleanConfig
from lakelib.etl._session import get_spark
from lakelib.etl._state import etl_lock, job_prefix
from lakelib.etl._transforms import DATE_KEYS
from lakelib.etl._write import (
    count_files,
    delete_partitions,
    existing_partitions,
    register_table,
    write_partitioned,
    write_whole,
)
from lakelib.storage import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

Step = Callable[[str], None]
JOB = "curate"
STATE_VERSION = 1
DESCRIPTIONS = {
    "customer_aggregates": "per customer: recency, frequency, monetary, tenure, favourites",
    "daily_sales": "event date x region x category: orders, customers, revenue",
    "product_performance": "per product: orders, units, revenue, rank in its category",
}
WHOLE_TABLES = ("customer_aggregates", "product_performance")
KEY_COLUMNS = ("customer_id", "product_id")


def state_prefix() -> str:
    return f"{job_prefix(JOB)}/state"


def _manifest_key() -> str:
    return f"{state_prefix()}/manifest.json"


def _keys_folder(generation: str) -> str:
    return f"{state_prefix()}/keys/{generation}"


@dataclass
class CurateState:
    """What the last curate saw: each ``sales_clean`` day's file fingerprint, and the key
    index generation holding that day's customers and products."""

    table: str
    days: dict[str, dict[str, str]] = field(default_factory=dict)

    def fingerprints(self) -> dict[str, str]:
        return {spec: entry["fingerprint"] for spec, entry in self.days.items()}


def partition_fingerprints(store: Store, table: str) -> dict[str, str]:
    """``{"year=2026/month=01/day=05": fingerprint}`` of the table's data files.

    A fingerprint hashes each file's name, size and modification time: Spark names every
    file it writes anew, so a rewritten partition always shows as changed.
    """
    files: dict[str, list[str]] = {}
    for info in store.list(f"{table}/"):
        parts = info.key[len(table) + 1 :].split("/")
        if len(parts) != len(DATE_KEYS) + 1 or any(p.startswith(("_", ".")) for p in parts):
            continue
        if not parts[-1].endswith(".parquet"):
            continue
        stamp = info.modified.isoformat() if info.modified else ""
        files.setdefault("/".join(parts[:-1]), []).append(f"{parts[-1]}|{info.size}|{stamp}")
    return {
        spec: hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:32]
        for spec, names in files.items()
    }


def read_state(settings: Settings, table: str) -> CurateState | None:
    """The last curate's state, or ``None`` (no curate yet, another table, an old format)."""
    runs = settings.store(Zone.RUNS)
    try:
        data = json.loads(runs.read_bytes(_manifest_key()))
    except (NotFoundError, ValueError):
        return None
    if data.get("version") != STATE_VERSION or data.get("table") != table:
        return None
    return CurateState(table, {str(k): dict(v) for k, v in dict(data.get("days", {})).items()})


def _write_state(settings: Settings, state: CurateState, run_id: str) -> None:
    runs = settings.store(Zone.RUNS)
    body = {"version": STATE_VERSION, "table": state.table, "run_id": run_id, "days": state.days}
    runs.write_bytes(_manifest_key(), json.dumps(body, indent=1, sort_keys=True).encode())
    # Key index generations no day refers to any more (and those of failed runs).
    live = {entry["keys"] for entry in state.days.values()}
    for generation in runs.folders(f"{state_prefix()}/keys/"):
        if generation not in live:
            runs.delete_prefix(_keys_folder(generation))


def _curated_tables_present(curated: Store) -> bool:
    return all(
        any(info.key.endswith(".parquet") for info in curated.list(f"{name}/"))
        for name in (*WHOLE_TABLES, "daily_sales")
    )


def all_nullable(frame: DataFrame) -> DataFrame:
    """``frame`` with every column nullable, as a column read back from Parquet is.

    Spark writes a non-nullable column as a Parquet ``required`` field (and says so in the
    file's schema metadata): a count computed from rows is non-nullable, the same count read
    from the stored table and merged with fresh ones is not, and the two files would differ
    in bytes. ``KnownNullable`` only marks the column (the optimizer keeps it, unlike any
    ``CASE``/``coalesce`` spelling); where that class is missing, the rows are rebuilt with
    the nullable schema.
    """
    from py4j.protocol import Py4JError
    from pyspark.sql import Column
    from pyspark.sql import DataFrame as Frame

    spark = frame.sparkSession
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    try:
        known = jvm.org.apache.spark.sql.catalyst.expressions.KnownNullable
        columns = [
            Column(jvm.org.apache.spark.sql.Column(known(frame[name]._jc.expr()))).alias(name)
            for name in frame.columns
        ]
        return frame.select(*columns)
    except (Py4JError, TypeError):
        from pyspark.sql.types import StructField, StructType

        fields = [StructField(f.name, f.dataType, True, f.metadata) for f in frame.schema]
        schema = spark._jsparkSession.parseDataType(StructType(fields).json())
        return Frame(spark._jsparkSession.createDataFrame(frame._jdf.rdd(), schema), spark)


def _state_usable(state: CurateState, settings: Settings, curated: Store) -> bool:
    """Whether an incremental run can trust ``state``: every curated table is there and
    every key index generation it names (someone may have deleted either)."""
    if not _curated_tables_present(curated):
        return False
    runs = settings.store(Zone.RUNS)
    have = set(runs.folders(f"{state_prefix()}/keys/"))
    return {entry["keys"] for entry in state.days.values()} <= have


def _keep(frame: DataFrame) -> DataFrame:
    """``frame`` computed now and kept: it reads the table it is about to replace."""
    if (frame.sparkSession.sparkContext.master or "").startswith("local"):
        return frame.localCheckpoint(eager=True)
    from pyspark import StorageLevel

    kept = frame.persist(StorageLevel.MEMORY_AND_DISK)
    kept.count()
    return kept


def _release(frames: Iterable[DataFrame]) -> None:
    for frame in frames:
        if frame.is_cached:
            frame.unpersist()
            continue
        plan = frame._jdf.queryExecution().analyzed()
        if plan.getClass().getSimpleName() == "LogicalRDD":
            plan.rdd().unpersist(False)


def run_curate(
    *,
    full: bool = False,
    settings: Settings | None = None,
    spark: object | None = None,
    on_step: Step | None = None,
    register: bool = True,
    lock: bool = True,
) -> EtlRun:
    """Bring the curated tables up to date with ``sales_clean`` and register them.

    Parameters
    ----------
    full:
        recompute every table from all of ``sales_clean`` (also what a first run, or a run
        that finds its state or a curated table missing, does).
    settings, spark, on_step:
        the settings, the Spark session (default :func:`get_spark`), a progress callback.
    register:
        register the tables and their partitions in the catalog.
    lock:
        hold the ``curate`` lock and ``sales_clean``'s (the caller holds them when false).

    Returns
    -------
    EtlRun
        ``mode`` is ``full`` or ``incremental``; ``rows_in`` the ``sales_clean`` rows of the
        changed days (all rows when full); ``tables`` the rows of each curated table;
        ``partitions_written`` / ``partitions_removed`` the ``daily_sales`` days. Written to
        ``runs/etl/curate/<run_id>.json``.
    """
    from pyspark.sql import SparkSession

    settings = settings or get_settings()
    step = on_step or (lambda message: log.info("%s", message))
    source_table = SalesCleanConfig.from_settings(settings).table
    processed = settings.store(Zone.PROCESSED)
    curated = settings.store(Zone.CURATED)
    # sales_clean replaces its partitions in place: curate holds its lock too (the jobs it
    # reads, by job name, from the registry), so it never reads the table halfway through a
    # sales_clean batch, whatever [etl] table names that table.
    reads = ETL_JOBS[JOB].reads
    context = etl_lock(JOB, settings, reads=reads) if lock else nullcontext()
    with context, recorded(JOB, "full" if full else "incremental", settings) as run:
        now = partition_fingerprints(processed, source_table)
        if not now:
            raise EtlError(f"nothing to curate: {source_table} is empty (run it first)")
        state = None if full else read_state(settings, source_table)
        if state is not None and not _state_usable(state, settings, curated):
            step("curate: a curated table or curate's key index is missing: recomputing all")
            state = None
        if state is None:
            run.mode = "full"
            changed = set(now)
        else:
            before = state.fingerprints()
            changed = {s for s in now.keys() | before.keys() if now.get(s) != before.get(s)}
            if not changed:
                step(f"curate: {source_table} has not changed since the last curate")
                return run
        session = spark if isinstance(spark, SparkSession) else get_spark("lakelib-curate")
        job = _Curate(session, settings, run, source_table, step, register=register)
        new_state = job.full(now) if state is None else job.incremental(now, changed, state)
        _write_state(settings, new_state, run.run_id)
    return run


class _Curate:
    """One curate run's reads and writes."""

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        run: EtlRun,
        table: str,
        step: Step,
        *,
        register: bool,
    ) -> None:
        self.spark = spark
        self.register = register
        self.settings = settings
        self.run = run
        self.table = table
        self.step = step
        self.processed = settings.store(Zone.PROCESSED)
        self.curated = settings.store(Zone.CURATED)
        self.runs = settings.store(Zone.RUNS)

    # -- reading -------------------------------------------------------------------------

    def _sales(self, specs: Iterable[str] | None = None) -> DataFrame | None:
        """``sales_clean``'s rows (of the days ``specs`` only: partition pruning), the
        columns curate reads plus the date keys."""
        base = self.processed.url(self.table)
        reader = self.spark.read.option("basePath", base)
        if specs is None:
            frame = reader.parquet(base)
        else:
            paths = [self.processed.url(f"{self.table}/{s}") for s in sorted(specs)]
            if not paths:
                return None
            frame = reader.parquet(*paths)
        return frame.select(*INPUT_COLUMNS, *DATE_KEYS)

    def _old_keys(self, state: CurateState, specs: Iterable[str]) -> DataFrame | None:
        """The customers and products each of ``specs`` had at the last curate."""
        by_generation: dict[str, list[str]] = {}
        for spec in specs:
            entry = state.days.get(spec)
            if entry is not None:
                by_generation.setdefault(entry["keys"], []).append(spec)
        frames = []
        for generation, day_specs in sorted(by_generation.items()):
            folder = _keys_folder(generation)
            have = existing_partitions(self.runs, folder)
            missing = [s for s in day_specs if s not in have]
            if missing:
                raise EtlError(
                    f"curate's key index has no {folder}/{missing[0]}: run `lake etl curate "
                    "--full` to rebuild it"
                )
            paths = [self.runs.url(f"{folder}/{s}") for s in sorted(day_specs)]
            frames.append(
                self.spark.read.option("basePath", self.runs.url(folder))
                .parquet(*paths)
                .select(*KEY_COLUMNS, *DATE_KEYS)
            )
        if not frames:
            return None
        out = frames[0]
        for frame in frames[1:]:
            out = out.unionByName(frame)
        return out

    # -- writing -------------------------------------------------------------------------

    def _write_whole(self, frame: DataFrame, name: str) -> None:
        self.step(f"curate: writing {name}")
        frame = all_nullable(frame)
        with self.curated.replacing_folder(name, self.run.run_id) as key:
            write_whole(frame, self.curated, key)
        self.run.files_written += 1

    def _write_days(self, frame: DataFrame, specs: set[str], *, full: bool) -> None:
        """Replace the ``daily_sales`` days in ``specs`` with ``frame``'s rows; remove the
        days of ``specs`` (every stored day, when ``full``) that ``frame`` has no rows for."""
        name = "daily_sales"
        self.step(f"curate: writing {name}")
        frame = all_nullable(frame).cache()  # written, then its days listed
        try:
            wanted = {
                "/".join(f"{k}={r[k]}" for k in DATE_KEYS)
                for r in frame.select(*DATE_KEYS).distinct().collect()
            }
            if wanted:
                write_partitioned(
                    frame, self.curated, name, DATE_KEYS, sort_by=("region", "category")
                )
            have = set(existing_partitions(self.curated, name))
            stale = (have - wanted) if full else (have & specs) - wanted
            removed = delete_partitions(self.curated, name, stale)
            self.run.partitions_written = sorted(wanted)
            self.run.partitions_removed = removed
            self.run.files_written += count_files(self.curated, name, wanted)
            self._register(name, frame.schema, DATE_KEYS, wanted, removed)
        finally:
            frame.unpersist()

    def _register(
        self,
        name: str,
        schema: Any,
        keys: tuple[str, ...] = (),
        partitions: Iterable[str] = (),
        removed: Iterable[str] = (),
    ) -> None:
        if name != "daily_sales":
            self.run.tables[name] = self.spark.read.parquet(self.curated.url(name)).count()
        if not self.register:
            return
        register_table(
            schema,
            table=name,
            zone=Zone.CURATED,
            folder=name,
            keys=keys,
            settings=self.settings,
            partitions=partitions,
            removed=removed,
            description=DESCRIPTIONS[name],
            parameters={"lakelib.job": JOB},
        )

    def _write_keys(self, sales: DataFrame | None) -> str:
        """The key index of the days ``sales`` holds, as a new generation; its name."""
        generation = self.run.run_id
        if sales is not None:
            keys = sales.select(*KEY_COLUMNS, *DATE_KEYS).distinct()
            write_partitioned(
                keys, self.runs, _keys_folder(generation), DATE_KEYS, sort_by=KEY_COLUMNS
            )
        return generation

    def _count_days(self) -> None:
        self.run.tables["daily_sales"] = self.spark.read.parquet(
            self.curated.url("daily_sales")
        ).count()

    # -- the two ways --------------------------------------------------------------------

    def full(self, now: Mapping[str, str]) -> CurateState:
        self.step(f"curate: reading all of {self.table}")
        sales = self._sales()
        assert sales is not None
        # Read three times (once per table) and once more for the key index: the data is
        # already columnar Parquet on local disk, and a cache of the whole table would hold
        # the lake in the JVM.
        self.run.rows_in = sales.count()
        whole = {
            "customer_aggregates": customer_aggregates(sales),
            "product_performance": product_performance(sales),
        }
        for name, frame in whole.items():
            self._write_whole(frame, name)
            self._register(name, frame.schema)
        self._write_days(daily_sales(sales), set(now), full=True)
        self._count_days()
        generation = self._write_keys(sales)
        return CurateState(
            self.table, {spec: {"fingerprint": f, "keys": generation} for spec, f in now.items()}
        )

    def incremental(
        self, now: Mapping[str, str], changed: set[str], state: CurateState
    ) -> CurateState:
        from pyspark.sql import functions as F

        present = sorted(s for s in changed if s in now)
        self.step(
            f"curate: {len(changed)} changed day(s) of {self.table}; recomputing what they touch"
        )
        day_rows = self._sales(present)
        old_keys = self._old_keys(state, changed)
        touched = [f for f in (day_rows, old_keys) if f is not None]
        keys = touched[0].select(*KEY_COLUMNS)
        for frame in touched[1:]:
            keys = keys.unionByName(frame.select(*KEY_COLUMNS))
        keys = _keep(keys.distinct())
        kept: list[DataFrame] = [keys]
        try:
            self.run.rows_in = day_rows.count() if day_rows is not None else 0
            # Days first: as_of (the data's last event date) is read back from them.
            if day_rows is not None:
                days = daily_sales(day_rows)
            else:
                days = self.spark.read.parquet(self.curated.url("daily_sales")).limit(0)
            self._write_days(days, changed, full=False)
            self._count_days()
            # The data's last event date, as a full recompute takes it (as_of_date over
            # sales_clean): from sales_clean's last day, listed before this run wrote
            # anything. Not from a listing of what this run just wrote: a writer whose
            # listing lags its writes (an S3 mirror, a Hadoop committer's staging) would
            # see yesterday's last day.
            last_day = self._sales([max(now)])
            assert last_day is not None
            as_of = last_day.select(F.max("event_date")).first()
            as_of_frame = self.spark.createDataFrame([(as_of[0] if as_of else None,)], "as_of date")

            sales = self._sales()
            assert sales is not None
            for key, name in (
                ("customer_id", "customer_aggregates"),
                ("product_id", "product_performance"),
            ):
                wanted = F.broadcast(keys.select(key).distinct())
                # Every row of each touched key (null-safe: a null key is a key too).
                rows = sales.join(wanted, sales[key].eqNullSafe(wanted[key]), "left_semi")
                stored = self.spark.read.parquet(self.curated.url(name))
                others = stored.join(wanted, stored[key].eqNullSafe(wanted[key]), "left_anti")
                if name == "customer_aggregates":
                    fresh = customer_rows(rows)
                    merged = with_as_of(others.drop(*AS_OF_COLUMNS).unionByName(fresh), as_of_frame)
                else:
                    fresh = product_rows(rows)
                    merged = rank_products(others.drop(*RANK_COLUMNS).unionByName(fresh))
                # The stored table is read while it is replaced: compute it first.
                merged = _keep(merged)
                kept.append(merged)
                self._write_whole(merged, name)
                self._register(name, merged.schema)
            generation = self._write_keys(day_rows)
        finally:
            _release(kept)
        days_state = {s: e for s, e in state.days.items() if s in now and s not in changed}
        for spec in present:
            days_state[spec] = {"fingerprint": now[spec], "keys": generation}
        return CurateState(self.table, days_state)
