"""Machine learning on the lake: features, training, the model registry, serving, batch scoring."""

from lakelib.ml._data import load_events
from lakelib.ml._features import customer_features, plan_cutoffs
from lakelib.ml._registry import ModelRegistry
from lakelib.ml._train import train

__all__ = ["ModelRegistry", "customer_features", "load_events", "plan_cutoffs", "train"]
