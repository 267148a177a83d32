"""What a ``sales_clean`` run reads from the raw zone: the raw files not processed yet, and
the latest snapshot of each reference source (customers, products)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone
from lakelib.errors import ValidationError
from lakelib.etl._record import path_key
from lakelib.etl._transforms import (
    CORRUPT,
    ENVELOPE,
    latest_snapshot,
    raw_columns,
    typed_reference,
)
from lakelib.ingest import Contract, load_contract
from lakelib.storage import RawKey, Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# The reference sources a sale is enriched from, by their key.
REFERENCES = {"customers": "customer_id", "products": "product_id"}


def raw_schema(contract: Contract) -> Any:
    """Every contract field as text, the envelope, and the corrupt-record column."""
    from pyspark.sql.types import StringType, StructField, StructType

    names = [*raw_columns(contract), *ENVELOPE, CORRUPT]
    return StructType([StructField(name, StringType()) for name in names])


def pending_raw_files(
    raw: Store, source: str, processed: list[str], since: date | None = None
) -> tuple[int, int]:
    """``(files, bytes)`` of raw files no committed batch has processed yet."""
    done = {path_key(p) for p in processed}
    files = size = 0
    for info in raw.list(f"{source}/"):
        if not info.key.endswith(".json.gz"):
            continue
        if path_key(raw.url(info.key)) in done:
            continue
        if since is not None:
            parts = dict(p.split("=", 1) for p in info.key.split("/")[1:4] if "=" in p)
            try:
                arrived = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
            except (KeyError, ValueError):
                arrived = None
            if arrived is not None and arrived < since:
                continue
        files += 1
        size += info.size
    return files, size


def reference_snapshot(
    spark: SparkSession, settings: Settings, source: str, key: str
) -> tuple[DataFrame | None, str | None]:
    """The latest snapshot of a reference source in raw, typed by its contract; or ``None``.

    Every ``lake ingest customers`` lands a whole snapshot, so only the files of the latest
    run are read (their names carry the landing time, which is the rows' ``_ingested_at``):
    the cost follows one snapshot, not every snapshot ever landed. Returns the snapshot and
    its ``_ingested_at``.
    """
    raw = settings.store(Zone.RAW)
    landed: dict[str, datetime | None] = {}
    for info in raw.list(f"{source}/"):
        if info.key.endswith(".json.gz"):
            try:
                landed[info.key] = RawKey.parse(info.key).landed_at
            except ValidationError:  # not named by ingestion: read it, judge by content
                landed[info.key] = None
    if not landed:
        log.warning("no %s in the raw zone yet: rows are enriched as unknown", source)
        return None, None
    stamps = [at for at in landed.values() if at is not None]
    newest = max(stamps) if stamps else None
    keys = sorted(k for k, at in landed.items() if at is None or at == newest)
    contract = load_contract(source, settings.section("sources"))
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    names = list(dict.fromkeys([*contract.field_names, key, *ENVELOPE]))
    schema = StructType([StructField(n, StringType()) for n in names])
    frame = spark.read.schema(schema).json([raw.url(k) for k in keys])
    snapshot = typed_reference(latest_snapshot(frame, key), contract)
    if newest is not None and len(stamps) == len(landed):
        return snapshot, newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    latest = snapshot.agg(F.max("_ingested_at")).first()
    return snapshot, (str(latest[0]) if latest else None)
