"""Batch transform: score every customer as of a date, write ``curated/predictions``.

Locally the features go through the same ``input_fn -> predict_fn -> output_fn`` chain as
SageMaker batch transform with ``SplitType=Line`` and ``BatchStrategy=MultiRecord`` would
run them (CSV mini-batches under the payload limit), and the customer id is joined back
as ``DataProcessing.JoinSource=Input`` does. Output: one Parquet file per as-of day under
``curated/predictions/year=YYYY/month=MM/day=DD/``, cataloged as ``predictions``.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lakelib.catalog import Column, Table, open_catalog
from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import MlError
from lakelib.ml._data import load_events
from lakelib.ml._features import customer_features
from lakelib.ml._inference import CSV, LoadedModel, transform
from lakelib.ml._registry import ModelRegistry
from lakelib.storage import date_partition, partition_path, zone_store

log = logging.getLogger(__name__)

PREDICTIONS_TABLE = "predictions"
PREDICTION_COLUMNS = (
    Column("customer_id", "string"),
    Column("score", "double", "probability of buying again within the horizon"),
    Column("predicted_label", "int", "score >= 0.5"),
    Column("as_of", "date", "features use events before this day"),
    Column("horizon_days", "int"),
    Column("model", "string"),
    Column("model_version", "string"),
    Column("scored_at", "timestamp"),
)
BATCH_ROWS = 10_000


@dataclass(frozen=True)
class TransformResult:
    """What :func:`batch_transform` wrote."""

    rows: int
    as_of: dt.date
    model: str
    version: str
    uri: str
    partition: dict[str, str]
    positive_share: float


def score_frame(
    features: pd.DataFrame, model: LoadedModel, batch_rows: int = BATCH_ROWS
) -> np.ndarray:
    """Scores for a features frame, sent through the inference functions in CSV batches."""
    columns = model.features
    missing = [c for c in columns if c not in features.columns]
    for name in missing:  # a category never seen in this window has a share of 0
        if not name.startswith("share_"):
            raise MlError(f"features lack column {name!r} the model needs")
    frame = features.reindex(columns=columns, fill_value=0.0)
    scores = []
    for start in range(0, len(frame), batch_rows):
        chunk = frame.iloc[start : start + batch_rows]
        body = chunk.to_csv(header=False, index=False).encode()
        answer, _ = transform(body, CSV, CSV, model)
        scores.append(np.loadtxt(io.StringIO(answer.decode()), ndmin=1))
    return np.concatenate(scores) if scores else np.empty(0)


def predictions_table(settings: Settings) -> Table:
    location = f"{settings.zone_uri(Zone.CURATED).rstrip('/')}/{PREDICTIONS_TABLE}"
    return Table(
        database=settings.database,
        name=PREDICTIONS_TABLE,
        columns=PREDICTION_COLUMNS,
        partition_keys=("year", "month", "day"),
        location=location,
        classification="parquet",
        compression="snappy",
        parameters={"lakelib.zone": "curated", "lakelib.writer": "lake transform"},
        description="customer scores from the churn model (batch transform)",
    )


def batch_transform(
    *,
    as_of: dt.date | None = None,
    model: str | None = None,
    version: str | None = None,
    events: pd.DataFrame | None = None,
    settings: Settings | None = None,
) -> TransformResult:
    """Score every customer with history before ``as_of`` and write the predictions table.

    Parameters
    ----------
    as_of:
        features use events before this day (default: the day after the last event).
    model, version:
        which registered model (default: the promoted version of ``[ml] model_name``).
    events:
        the events frame (default: ``sales_clean`` via :func:`lakelib.ml.load_events`).

    Returns
    -------
    TransformResult
        rows written and where. A rerun for the same day replaces that day's file.
    """
    settings = settings or get_settings()
    registry = ModelRegistry(model, settings=settings)
    entry = registry.get(version)
    loaded = registry.load(entry.version)
    if events is None:
        events = load_events(settings)
    if events.empty:
        raise MlError("no sales events to score")
    if as_of is None:
        as_of = events["ts"].max().date() + dt.timedelta(days=1)
    shares = list(loaded.metadata.get("category_shares", []))
    features = customer_features(events, as_of, categories=shares)
    if features.empty:
        raise MlError(f"no customer has events before {as_of}")
    scores = score_frame(features, loaded)
    horizon = int(loaded.metadata.get("training_data", {}).get("horizon_days", 30))
    return write_predictions(
        features["customer_id"].astype(str),
        scores,
        as_of=as_of,
        model=registry.name,
        version=entry.version,
        horizon=horizon,
        settings=settings,
    )


def write_predictions(
    customer_ids: pd.Series,
    scores: np.ndarray,
    *,
    as_of: dt.date,
    model: str,
    version: str,
    horizon: int,
    settings: Settings,
) -> TransformResult:
    """Write one as-of day of scores to ``curated/predictions`` (replacing it) and catalog it:
    the same rows whether the scores came from the local chain or a SageMaker transform job."""
    out = pd.DataFrame(
        {
            "customer_id": customer_ids.astype(str).to_numpy(),
            "score": scores.astype(float),
            "predicted_label": (scores >= 0.5).astype("int32"),
            "as_of": as_of,
            "horizon_days": np.int32(horizon),
            "model": model,
            "model_version": version,
            "scored_at": pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        }
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = predictions_table(settings)
    values = date_partition(as_of)
    key = f"{PREDICTIONS_TABLE}/{partition_path(values)}/part-00000.parquet"
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False), buffer, compression="snappy")
    store = zone_store(Zone.CURATED, settings)
    store.write_bytes(key, buffer.getvalue())
    catalog = open_catalog(settings)
    catalog.put_table(table)
    catalog.add_partitions(PREDICTIONS_TABLE, [table.partition(values)])
    log.info("wrote %d predictions for %s to %s", len(out), as_of, store.url(key))
    return TransformResult(
        rows=len(out),
        as_of=as_of,
        model=model,
        version=version,
        uri=store.url(key),
        partition=values,
        positive_share=float(out["predicted_label"].mean()) if len(out) else 0.0,
    )


# -- the same scoring as a SageMaker batch transform job (the daily pipeline on AWS) ----------
# prepare: the features as CSV (customer_id first), the promoted version as a model request,
# the transform request, as a plan; the state machine creates both; catalog: the job's
# ``customer_id,score`` lines -> write_predictions.

FEATURES_FILE = "features.csv"


def prepare_sagemaker_transform(
    execution: str, *, as_of: dt.date, settings: Settings | None = None
) -> dict[str, object]:
    """Upload the features and the model, write the plan ``<execution>.transform.json``.

    Returns the plan (``due`` false, with a ``reason``, when no version is promoted).
    """
    from lakelib.ml._sagemaker import SageMakerDeployer, transform_job_request, write_training_plan

    settings = settings or get_settings()
    registry = ModelRegistry(settings=settings)
    plan: dict[str, object] = {"execution": execution, "as_of": as_of.isoformat()}
    version = registry.promoted_version()
    if version is None:
        plan.update(due=False, reason="no promoted model to score with")
        write_training_plan(settings, execution, plan, "transform")
        return plan
    entry = registry.get(version)
    loaded = registry.load(entry.version)
    events = load_events(settings)
    if events.empty:
        raise MlError("no sales events to score")
    shares = list(loaded.metadata.get("category_shares", []))
    features = customer_features(events, as_of, categories=shares)
    if features.empty:
        raise MlError(f"no customer has events before {as_of}")
    frame = features.reindex(columns=loaded.features, fill_value=0.0)
    frame.insert(0, "customer_id", features["customer_id"].astype(str))
    scripts = zone_store(Zone.SCRIPTS, settings)
    base = f"ml/transform/{execution}"
    scripts.write_bytes(
        f"{base}/input/{FEATURES_FILE}", frame.to_csv(header=False, index=False).encode()
    )
    deployer = SageMakerDeployer(settings)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    model_name = f"{entry.model}-{entry.version}-{stamp}"
    model_request = deployer.model_request(model_name, entry.artifact)
    horizon = int(loaded.metadata.get("training_data", {}).get("horizon_days", 30))
    plan.update(
        due=True,
        model=registry.name,
        version=entry.version,
        horizon_days=horizon,
        rows=len(frame),
        output=scripts.url(f"{base}/output") + "/",
        model_request=model_request,
        transform_request=transform_job_request(
            job_name=f"{model_name}-transform",
            model_name=model_name,
            input_uri=scripts.url(f"{base}/input") + "/",
            output_uri=scripts.url(f"{base}/output") + "/",
            network=deployer.network,
        ),
    )
    write_training_plan(settings, execution, plan, "transform")
    return plan


def catalog_sagemaker_transform(
    execution: str, *, settings: Settings | None = None
) -> TransformResult:
    """The transform job's output (``customer_id,score`` lines) into ``curated/predictions``."""
    from lakelib.ml._sagemaker import read_training_plan
    from lakelib.storage import open_store

    settings = settings or get_settings()
    plan = read_training_plan(settings, execution, "transform")
    if not plan.get("due"):
        raise MlError(f"execution {execution} planned no transform ({plan.get('reason')})")
    output = open_store(str(plan["output"]))
    name = f"{FEATURES_FILE}.out"
    try:
        body = output.read_bytes(name)
    except Exception as exc:
        raise MlError(f"the transform job wrote no {plan['output']}{name}: {exc}") from exc
    frame = pd.read_csv(io.BytesIO(body), header=None, names=["customer_id", "score"],
                        dtype={"customer_id": str})  # fmt: skip
    if len(frame) != int(plan["rows"]):
        raise MlError(f"the transform job scored {len(frame)} of {plan['rows']} customers ({name})")
    return write_predictions(
        frame["customer_id"],
        frame["score"].to_numpy(dtype=float),
        as_of=dt.date.fromisoformat(str(plan["as_of"])),
        model=str(plan["model"]),
        version=str(plan["version"]),
        horizon=int(plan["horizon_days"]),
        settings=settings,
    )


def feature_payload(
    limit: int = 5,
    *,
    as_of: dt.date | None = None,
    model: str | None = None,
    settings: Settings | None = None,
) -> bytes:
    """CSV rows (no header) of real customers' features in the promoted model's column order:
    a request body to smoke-test an endpoint with (``lake predict --data``)."""
    settings = settings or get_settings()
    loaded = ModelRegistry(model, settings=settings).load()
    events = load_events(settings)
    if events.empty:
        raise MlError("no sales events to build features from")
    as_of = as_of or events["ts"].max().date() + dt.timedelta(days=1)
    shares = list(loaded.metadata.get("category_shares", []))
    features = customer_features(events, as_of, categories=shares).head(limit)
    frame = features.reindex(columns=loaded.features, fill_value=0.0)
    return frame.to_csv(header=False, index=False).encode()
