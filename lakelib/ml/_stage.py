"""The ML stage as the pipeline (and ``lake demo``) runs it: train, then score."""

from __future__ import annotations

import logging
from collections.abc import Callable

from lakelib.config import Settings, get_settings
from lakelib.ml._train import train
from lakelib.ml._transform import batch_transform

log = logging.getLogger(__name__)


def run_ml_stage(
    settings: Settings | None = None, *, on_step: Callable[[str], None] | None = None
) -> list[tuple[str, str]]:
    """Train a new model version on ``sales_clean`` and score every customer with the live one.

    Returns ``(stage, one-line result)`` pairs for a report (``train``, ``transform``).

    Examples
    --------
    >>> for stage, result in run_ml_stage(settings):              # doctest: +SKIP
    ...     report.stages.append((stage, result))
    """
    settings = settings or get_settings()
    step = on_step or (lambda message: log.info("%s", message))
    step("training the churn model")
    result = train(settings=settings)
    metrics = result.metrics
    live = "promoted" if result.promoted else "not promoted"
    nan = float("nan")
    trained = (
        f"{result.version.model} {result.version.version} ({live}): ROC AUC "
        f"{metrics.get('roc_auc', nan):.3f}, PR AUC {metrics.get('pr_auc', nan):.3f} "
        f"(prior baseline PR AUC {metrics.get('baseline_prior_pr_auc', nan):.3f}), "
        f"test cutoff {result.plan.test}"
    )
    step("scoring customers (batch transform)")
    scored = batch_transform(settings=settings)
    transformed = (
        f"{scored.rows:,} customers scored as of {scored.as_of} with {scored.version} -> "
        f"curated/predictions ({scored.positive_share:.0%} predicted to buy again)"
    )
    return [("train", trained), ("transform", transformed)]
