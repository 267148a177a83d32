"""Machine learning on the lake: features, training, registry, serving, batch transform.

The SageMaker part of the architecture, with the same code locally and on AWS:

- **features and label** (:func:`customer_features`, :func:`buys_again`,
  :func:`plan_cutoffs`): per customer recency, frequency, monetary value, tenure, segment,
  region, category mix and trend as of a cutoff; label = buys again within 30 days;
- **training** (:func:`train`): a script-mode job (``jobs/train.py``; ``SM_MODEL_DIR``,
  ``SM_CHANNEL_TRAIN``...) run locally by :class:`LocalTrainer` or on SageMaker by
  :class:`SageMakerTrainer`;
- **registry** (:class:`ModelRegistry`): ``models/<model>/<version>/model.tar.gz``, versions,
  comparison, promotion; loading verifies the model's sha256;
- **serving** (``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``) behind a local HTTP
  endpoint (:func:`deploy_local`, :func:`serve_endpoint`) that a boto3 ``sagemaker-runtime``
  client can call, or a SageMaker endpoint (:class:`SageMakerDeployer`);
- **batch transform** (:func:`batch_transform`): ``curated/predictions``, cataloged.

>>> from lakelib.ml import train, deploy_local, predict, batch_transform
>>> result = train()                                                # doctest: +SKIP
>>> record = deploy_local()                                         # doctest: +SKIP
>>> predict(None, b"3,0,2,...")                                     # doctest: +SKIP
"""

from lakelib.ml._artifact import ModelIntegrityError, pack_model_dir, unpack_artifact
from lakelib.ml._data import load_events
from lakelib.ml._deploy import (
    EndpointRecord,
    LocalRuntime,
    SageMakerRuntime,
    default_endpoint_name,
    deploy_local,
    list_endpoints,
    predict,
    read_endpoint,
    serve_endpoint,
    stop_local,
)
from lakelib.ml._features import (
    CutoffPlan,
    buys_again,
    customer_features,
    feature_columns,
    labelled_examples,
    plan_cutoffs,
    split_examples,
)
from lakelib.ml._inference import (
    InferenceError,
    LoadedModel,
    input_fn,
    model_fn,
    output_fn,
    predict_fn,
)
from lakelib.ml._registry import ModelRegistry, ModelVersion, model_settings
from lakelib.ml._sagemaker import SageMakerDeployer, SageMakerTrainer, build_source_bundle
from lakelib.ml._server import EndpointServer, make_endpoint_server
from lakelib.ml._stage import run_ml_stage
from lakelib.ml._train import LocalTrainer, TrainingResult, prepare_training_data, train
from lakelib.ml._transform import (
    PREDICTIONS_TABLE,
    TransformResult,
    batch_transform,
    feature_payload,
)

__all__ = [
    "PREDICTIONS_TABLE",
    "CutoffPlan",
    "EndpointRecord",
    "EndpointServer",
    "InferenceError",
    "LoadedModel",
    "LocalRuntime",
    "LocalTrainer",
    "ModelIntegrityError",
    "ModelRegistry",
    "ModelVersion",
    "SageMakerDeployer",
    "SageMakerRuntime",
    "SageMakerTrainer",
    "TrainingResult",
    "TransformResult",
    "batch_transform",
    "build_source_bundle",
    "buys_again",
    "customer_features",
    "default_endpoint_name",
    "deploy_local",
    "feature_columns",
    "feature_payload",
    "input_fn",
    "labelled_examples",
    "list_endpoints",
    "load_events",
    "make_endpoint_server",
    "model_fn",
    "model_settings",
    "output_fn",
    "pack_model_dir",
    "plan_cutoffs",
    "predict",
    "predict_fn",
    "prepare_training_data",
    "read_endpoint",
    "run_ml_stage",
    "serve_endpoint",
    "split_examples",
    "stop_local",
    "train",
    "unpack_artifact",
]
