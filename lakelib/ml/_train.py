"""Training end to end: events -> labelled features -> script-mode job -> registered version."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd

from lakelib import _stamps as stamps
from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import MlError
from lakelib.ml._artifact import pack_model_dir, read_metadata
from lakelib.ml._data import load_events
from lakelib.ml._features import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_MIN_HISTORY_DAYS,
    DEFAULT_STEP_DAYS,
    CutoffPlan,
    labelled_examples,
    plan_cutoffs,
    split_examples,
)
from lakelib.ml._registry import ModelRegistry, ModelVersion, model_settings
from lakelib.ml._script import MANIFEST_FILE, METRICS_FILE

log = logging.getLogger(__name__)

Promote = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class TrainingData:
    """The two channels of a training job, as local folders of CSV + ``manifest.json``."""

    train: Path
    test: Path
    manifest: dict[str, Any]


@dataclass
class TrainingResult:
    """What :func:`train` did."""

    version: ModelVersion
    promoted: bool
    plan: CutoffPlan
    job_name: str
    log_file: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        return self.version.metrics


class TrainingBackend(Protocol):
    """Runs the script-mode job on prepared channels; returns ``model.tar.gz`` bytes."""

    def run(
        self, job_name: str, data: TrainingData, hyperparameters: Mapping[str, Any]
    ) -> tuple[bytes, str | None]: ...


def prepare_training_data(
    events: pd.DataFrame,
    folder: Path,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    min_history_days: int = DEFAULT_MIN_HISTORY_DAYS,
    step_days: int = DEFAULT_STEP_DAYS,
) -> tuple[TrainingData, CutoffPlan]:
    """Labelled features split by time, written as the ``train`` and ``test`` channels."""
    if events.empty:
        raise MlError("no sales events to train on")
    first = events["ts"].min().date()
    last = events["ts"].max().date()
    try:
        plan = plan_cutoffs(
            first,
            last,
            horizon_days=horizon_days,
            min_history_days=min_history_days,
            step_days=step_days,
        )
    except ValueError as exc:
        raise MlError(str(exc)) from None
    examples = labelled_examples(events, [*plan.train, plan.test], horizon_days=horizon_days)
    train_rows, test_rows = split_examples(examples, plan)
    if train_rows.empty or test_rows.empty or train_rows["label"].nunique() < 2:
        raise MlError(
            f"not enough labelled customers to train ({len(train_rows)} train, "
            f"{len(test_rows)} test rows, labels {sorted(train_rows['label'].unique().tolist())})"
        )
    manifest = {
        "first_event": str(events["ts"].min()),
        "last_event": str(events["ts"].max()),
        "train_cutoffs": [c.isoformat() for c in plan.train],
        "test_cutoff": plan.test.isoformat(),
        "horizon_days": horizon_days,
        "label_windows_overlap": plan.overlap,
        "customer_holdout": plan.overlap,
        "train_rows": len(train_rows),
        "test_rows": len(test_rows),
        "notes": plan.notes,
    }
    channels = {}
    for name, rows in (("train", train_rows), ("test", test_rows)):
        channel = folder / name
        channel.mkdir(parents=True, exist_ok=True)
        out = rows.copy()
        out["cutoff"] = out["cutoff"].dt.strftime("%Y-%m-%d")
        out.to_csv(channel / f"{name}.csv", index=False)
        (channel / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
        channels[name] = channel
    return TrainingData(channels["train"], channels["test"], manifest), plan


class LocalTrainer:
    """Runs the training script in a subprocess over SageMaker's folder layout.

    ``<job>/input/data/{train,test}``, ``<job>/input/config/hyperparameters.json``,
    ``<job>/model``, ``<job>/output/data`` and the ``SM_*`` variables pointing at them, as
    the scikit-learn container sets them up.
    """

    def __init__(self, root: Path, timeout: float = 3600) -> None:
        self.root = root
        self.timeout = timeout

    def run(
        self, job_name: str, data: TrainingData, hyperparameters: Mapping[str, Any]
    ) -> tuple[bytes, str | None]:
        job = self.root / job_name
        model_dir = job / "model"
        output_dir = job / "output" / "data"
        config = job / "input" / "config"
        for folder in (model_dir, output_dir, config):
            folder.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(
            json.dumps({k: str(v) for k, v in hyperparameters.items()})
        )
        env = dict(os.environ)
        env.update(
            SM_MODEL_DIR=str(model_dir),
            SM_CHANNEL_TRAIN=str(data.train),
            SM_CHANNEL_TEST=str(data.test),
            SM_OUTPUT_DATA_DIR=str(output_dir),
            SM_CHANNELS=json.dumps(["test", "train"]),
            SM_HPS=json.dumps(dict(hyperparameters), default=str),
            SM_CURRENT_HOST="algo-1",
            SM_HOSTS=json.dumps(["algo-1"]),
        )
        args = [sys.executable, "-m", "lakelib.ml._script"]
        for key, value in hyperparameters.items():
            args += [f"--{key}", str(value)]
        log_file = job / "train.log"
        log.info("training job %s: %s", job_name, " ".join(args))
        with log_file.open("wb") as handle:
            try:
                done = subprocess.run(
                    args, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=self.timeout
                )
            except subprocess.TimeoutExpired:
                raise MlError(f"training job {job_name} timed out; see {log_file}") from None
        if done.returncode != 0:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise MlError(f"training job {job_name} failed: {tail[0]} (log: {log_file})")
        if not (output_dir / METRICS_FILE).is_file():
            raise MlError(f"training job {job_name} wrote no metrics (log: {log_file})")
        return pack_model_dir(model_dir), str(log_file)


def train(
    *,
    model: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    min_history_days: int = DEFAULT_MIN_HISTORY_DAYS,
    step_days: int = DEFAULT_STEP_DAYS,
    hyperparameters: Mapping[str, Any] | None = None,
    promote: Promote = "auto",
    events: pd.DataFrame | None = None,
    backend: TrainingBackend | None = None,
    settings: Settings | None = None,
) -> TrainingResult:
    """Train a new version of the model on the lake's cleaned sales and register it.

    Parameters
    ----------
    model:
        model name (default ``[ml] model_name`` of ``lake.toml``, else ``churn``).
    horizon_days:
        the label: buys again within this many days of the cutoff.
    min_history_days, step_days:
        how the cutoffs are chosen (:func:`lakelib.ml.plan_cutoffs`).
    hyperparameters:
        passed to the script as ``--name value`` (``max-iter``, ``learning-rate``,
        ``max-leaf-nodes``, ``l2-regularization``, ``random-state``).
    promote:
        ``auto`` promotes the new version when none is live or its test ROC AUC is at least
        the live one's; ``always`` / ``never`` do what they say.
    events:
        the events frame (default: read ``sales_clean`` with :func:`load_events`).
    backend:
        where the script runs (default: a :class:`LocalTrainer` under ``runs/training``).

    Examples
    --------
    >>> result = train()                                           # doctest: +SKIP
    >>> result.version.version, round(result.metrics["roc_auc"], 3)  # doctest: +SKIP
    ('v1', 0.823)
    """
    settings = settings or get_settings()
    registry = ModelRegistry(model, settings=settings)
    job_name = stamps.job_name(registry.name)
    runs = Path(settings.home) / Zone.RUNS.value / "training"
    if backend is None:
        if settings.is_local:
            backend = LocalTrainer(runs)
        else:
            # The same entry script as a SageMaker training job (spot): the aws profile's way.
            from lakelib.ml._sagemaker import SageMakerTrainer

            backend = SageMakerTrainer(settings)
    if events is None:
        events = load_events(settings)
    data, plan = prepare_training_data(
        events,
        runs / job_name / "input" / "data",
        horizon_days=horizon_days,
        min_history_days=min_history_days,
        step_days=step_days,
    )
    params = dict(hyperparameters or {})
    params.setdefault("model-name", registry.name)
    artifact, log_file = backend.run(job_name, data, params)
    source = "local" if isinstance(backend, LocalTrainer) else type(backend).__name__
    return register_artifact(
        registry,
        artifact,
        plan=plan,
        job_name=job_name,
        source=source,
        promote=promote,
        log_file=log_file,
        settings=settings,
    )


def register_artifact(
    registry: ModelRegistry,
    artifact: bytes,
    *,
    plan: CutoffPlan,
    job_name: str,
    source: str,
    promote: Promote = "auto",
    log_file: str | None = None,
    settings: Settings,
) -> TrainingResult:
    """Register a trained ``model.tar.gz`` as the next version and promote it by the rule of
    :func:`train` (also how a SageMaker training job run by Step Functions is registered)."""
    import tempfile

    from lakelib.ml._artifact import unpack_artifact

    with tempfile.TemporaryDirectory() as tmp:
        unpack_artifact(artifact, tmp)
        metadata = read_metadata(tmp)
    version = registry.add(artifact, metadata, source=source)

    live = registry.promoted_version()
    do_promote = promote == "always" or (
        promote == "auto" and (live is None or _roc(version) >= _roc(registry.get(live)))
    )
    if do_promote:
        registry.promote(version.version)
    notes = list(plan.notes)
    floor = float(model_settings(settings).get("min_roc_auc", 0.0))
    if _roc(version) < floor:
        notes.append(f"ROC AUC {_roc(version):.3f} is below [ml] min_roc_auc {floor}")
    return TrainingResult(version, do_promote, plan, job_name, log_file, notes)


def _roc(version: ModelVersion) -> float:
    value = version.metrics.get("roc_auc", float("nan"))
    return -1.0 if value != value else value
