"""The training script, in SageMaker's script-mode contract.

It reads CSV features from the ``train`` and ``test`` channels (``SM_CHANNEL_TRAIN``,
``SM_CHANNEL_TEST``), fits the pipeline, writes ``model.joblib`` + ``metadata.json`` to
``SM_MODEL_DIR`` and ``metrics.json`` to ``SM_OUTPUT_DATA_DIR``. Hyperparameters arrive as
``--name value`` arguments. SageMaker's scikit-learn container runs it as ``train.py`` (see
``jobs/train.py``); the local runner (:func:`lakelib.ml.train`) lays out the same folders and
runs it with ``python -m lakelib.ml._script``.

Each channel may hold a ``manifest.json`` (written by :func:`lakelib.ml.prepare_training_data`)
with the data range and cutoffs; it is copied into the model's metadata.

Standard library, numpy, pandas and scikit-learn only; Python 3.9 syntax.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lakelib.ml._artifact import write_model_dir
from lakelib.ml._features import CATEGORICAL_FEATURES, KEY_COLUMNS, LABEL, SHARE_PREFIX

log = logging.getLogger("lakelib.ml.train")

MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
MODEL_KIND = "churn"


def build_estimator(
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    max_iter: int = 200,
    learning_rate: float = 0.05,
    max_leaf_nodes: int = 31,
    l2_regularization: float = 0.0,
    random_state: int = 0,
) -> Any:
    """Scaling + one-hot encoding + a gradient-boosted classifier, as one scikit-learn Pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(numeric)),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(categorical),
            ),
        ]
    )
    model = HistGradientBoostingClassifier(
        max_iter=max_iter,
        learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes,
        l2_regularization=l2_regularization,
        random_state=random_state,
    )
    return Pipeline([("prep", prep), ("model", model)])


def evaluate(labels: np.ndarray, scores: np.ndarray, recency_days: np.ndarray) -> dict[str, float]:
    """ROC AUC and PR AUC of the model and of two naive baselines.

    ``baseline_prior``: every customer gets the training positive rate (ROC AUC 0.5, PR AUC the
    positive rate). ``baseline_recency``: the more recent the last purchase, the likelier.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels, dtype=int)
    both = len(np.unique(labels)) == 2
    nan = float("nan")
    metrics = {
        "roc_auc": float(roc_auc_score(labels, scores)) if both else nan,
        "pr_auc": float(average_precision_score(labels, scores)) if both else nan,
        "baseline_prior_roc_auc": 0.5,
        "baseline_prior_pr_auc": float(labels.mean()) if len(labels) else nan,
        "baseline_recency_roc_auc": float(roc_auc_score(labels, -recency_days)) if both else nan,
        "baseline_recency_pr_auc": (
            float(average_precision_score(labels, -recency_days)) if both else nan
        ),
        "positive_rate": float(labels.mean()) if len(labels) else nan,
        "accuracy": float(((scores >= 0.5).astype(int) == labels).mean()) if len(labels) else nan,
    }
    return metrics


def read_channel(folder: Path) -> pd.DataFrame:
    """Every CSV file of a channel folder, concatenated."""
    files = sorted(p for p in folder.rglob("*.csv") if not p.name.startswith("."))
    if not files:
        raise SystemExit(f"no CSV files in channel {folder}")
    frames = [pd.read_csv(p, dtype={"customer_id": str}) for p in files]
    return pd.concat(frames, ignore_index=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="Train the churn model (SageMaker script mode).")
    parser.add_argument("--max-iter", "--max_iter", type=int, default=200)
    parser.add_argument("--learning-rate", "--learning_rate", type=float, default=0.05)
    parser.add_argument("--max-leaf-nodes", "--max_leaf_nodes", type=int, default=31)
    parser.add_argument("--l2-regularization", "--l2_regularization", type=float, default=0.0)
    parser.add_argument("--random-state", "--random_state", type=int, default=0)
    parser.add_argument("--model-name", "--model_name", default=MODEL_KIND)
    parser.add_argument("--model-dir", default=env.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--test", default=env.get("SM_CHANNEL_TEST", "/opt/ml/input/data/test"))
    parser.add_argument(
        "--output-data-dir", default=env.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")
    )
    # SageMaker passes every hyperparameter; unknown ones (sagemaker_*) are ignored.
    args, _unknown = parser.parse_known_args(argv)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one training job; returns the exit code (0 ok)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    train_dir, test_dir = Path(args.train), Path(args.test)
    train = read_channel(train_dir)
    test = read_channel(test_dir) if test_dir.is_dir() else train.iloc[0:0]
    manifest = read_manifest(train_dir)

    reserved = {*KEY_COLUMNS, LABEL}
    features: list[str] = [c for c in train.columns if c not in reserved]
    categorical = [c for c in features if c in CATEGORICAL_FEATURES]
    numeric = [c for c in features if c not in categorical]
    for name in categorical:
        train[name] = train[name].astype(str)
        if len(test):
            test[name] = test[name].astype(str)

    estimator = build_estimator(
        numeric,
        categorical,
        max_iter=args.max_iter,
        learning_rate=args.learning_rate,
        max_leaf_nodes=args.max_leaf_nodes,
        l2_regularization=args.l2_regularization,
        random_state=args.random_state,
    )
    log.info("training on %d rows, %d features", len(train), len(features))
    estimator.fit(train[features], train[LABEL].astype(int))

    metrics: dict[str, float] = {}
    if len(test):
        scores = estimator.predict_proba(test[features])[:, 1]
        metrics = evaluate(test[LABEL].to_numpy(), scores, test["recency_days"].to_numpy())
    metrics.update(train_rows=float(len(train)), test_rows=float(len(test)))
    # One `name=value;` line per metric: what SageMaker metric definitions match on.
    for name, value in sorted(metrics.items()):
        log.info("metric %s=%.6f;", name, value)

    metadata: dict[str, Any] = {
        "model_name": args.model_name,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),  # noqa: UP017
        "task": "binary classification: buys again within the horizon",
        "label": LABEL,
        "features": features,
        "numeric_features": numeric,
        "categorical_features": categorical,
        "category_shares": [c[len(SHARE_PREFIX) :] for c in features if c.startswith(SHARE_PREFIX)],
        "metrics": metrics,
        "hyperparameters": {
            "max_iter": args.max_iter,
            "learning_rate": args.learning_rate,
            "max_leaf_nodes": args.max_leaf_nodes,
            "l2_regularization": args.l2_regularization,
            "random_state": args.random_state,
        },
        "training_data": manifest,
        "estimator": "Pipeline(StandardScaler+OneHotEncoder -> HistGradientBoostingClassifier)",
    }
    write_model_dir(Path(args.model_dir), estimator, metadata)
    output = Path(args.output_data_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
