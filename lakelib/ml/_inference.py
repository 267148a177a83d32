"""Inference functions in the SageMaker inference toolkit's shape.

``model_fn(model_dir)`` loads (and checksum-verifies) the model; ``input_fn(body,
content_type)`` decodes a request; ``predict_fn(data, model)`` scores it; ``output_fn(prediction,
accept)`` encodes the answer. SageMaker's scikit-learn container calls them from the shipped
``inference.py``; the local endpoint (:mod:`lakelib.ml._server`) and the local batch
transform call the very same functions.

Requests
    ``text/csv``: one row per line, the model's features in ``metadata["features"]`` order,
    no header (a header line equal to the feature names is skipped). An empty field is a
    missing value.
    ``application/json``: ``{"instances": [...]}`` or a bare list; each instance a list in
    feature order or an object keyed by feature name (missing keys are missing values); a
    single object is one instance.
Answers
    ``text/csv``: one probability per line. ``application/json``: ``{"predictions":
    [{"score": p, "label": 0|1}, ...]}``. The default ``Accept`` is the request's type.

Errors carry an HTTP status (``status``): 415 unknown content type, 406 unknown accept, 400
bad rows (wrong column count, non-numeric value, empty body), 503 no usable model.

Standard library, numpy, pandas; Python 3.9 syntax (it runs in the container).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakelib.errors import MlError
from lakelib.ml._artifact import load_model_dir

CSV = "text/csv"
JSON = "application/json"
CONTENT_TYPES = (CSV, JSON)
THRESHOLD = 0.5


class InferenceError(MlError):
    """A request the model cannot answer; ``status`` is the HTTP status to reply with."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class UnsupportedMediaType(InferenceError):
    status = 415


class NotAcceptable(InferenceError):
    status = 406


@dataclass
class LoadedModel:
    """What ``model_fn`` returns: the fitted pipeline and its metadata."""

    estimator: Any
    metadata: dict[str, Any]

    @property
    def features(self) -> list[str]:
        return list(self.metadata["features"])

    @property
    def categorical(self) -> list[str]:
        return list(self.metadata.get("categorical_features", []))


@dataclass
class Instances:
    """A decoded request: rows in feature order (``rows``) or objects by name (``records``)."""

    rows: list[list[Any]] | None = None
    records: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.rows if self.rows is not None else self.records or [])


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def model_fn(model_dir: str) -> LoadedModel:
    """Load the model in ``model_dir``, refusing it when its checksum does not match."""
    estimator, metadata = load_model_dir(model_dir)
    return LoadedModel(estimator, metadata)


def input_fn(request_body: bytes | str, request_content_type: str | None) -> Instances:
    """Decode a CSV or JSON request into :class:`Instances`."""
    ctype = media_type(request_content_type) or CSV
    if ctype not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"content type {ctype!r} is not supported: send {' or '.join(CONTENT_TYPES)}"
        )
    try:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    except UnicodeDecodeError:
        raise InferenceError("the body is not UTF-8 text") from None
    if not text.strip():
        raise InferenceError("empty body: send at least one row")
    if ctype == CSV:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        return Instances(rows=rows)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InferenceError(f"body is not valid JSON: {exc}") from None
    if isinstance(document, dict):
        document = document.get("instances", [document])
    if not isinstance(document, list) or not document:
        raise InferenceError('send {"instances": [...]} with at least one instance')
    if all(isinstance(item, dict) for item in document):
        return Instances(records=document)
    if all(isinstance(item, list) for item in document):
        return Instances(rows=document)
    if not any(isinstance(item, (dict, list)) for item in document):
        return Instances(rows=[document])  # one flat instance
    raise InferenceError("each instance must be a list (feature order) or an object")


def _number(value: Any, row: int, column: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, bool):
        raise InferenceError(f"row {row}, column {column}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InferenceError(
            f"row {row}, column {column}: {str(value)[:40]!r} is not a number"
        ) from None
    if math.isinf(number):
        raise InferenceError(f"row {row}, column {column}: infinite value")
    return number


def to_frame(data: Instances, model: LoadedModel) -> Any:
    """Check the instances against the model's features and build the input DataFrame."""
    import pandas as pd

    features = model.features
    categorical = set(model.categorical)
    if data.rows is not None:
        rows = data.rows
        if rows and [str(v).strip() for v in rows[0]] == features:
            rows = rows[1:]  # a header line
        if not rows:
            raise InferenceError("no data rows in the body")
        for number, row in enumerate(rows, start=1):
            if len(row) != len(features):
                raise InferenceError(
                    f"row {number} has {len(row)} values, the model takes {len(features)}: "
                    f"{', '.join(features)}"
                )
        columns = list(zip(*rows))  # noqa: B905 (lengths checked above)
    else:
        records = data.records or []
        unknown = sorted({k for r in records for k in r} - set(features))
        if unknown:
            raise InferenceError(f"unknown feature(s): {', '.join(unknown[:10])}")
        columns = [tuple(r.get(name) for r in records) for name in features]
    frame: dict[str, Any] = {}
    for name, values in zip(features, columns):  # noqa: B905
        if name in categorical:
            frame[name] = ["unknown" if v in (None, "") else str(v) for v in values]
        else:
            try:
                frame[name] = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                frame[name] = [_number(v, i, name) for i, v in enumerate(values, start=1)]
            if np.isinf(frame[name]).any():
                raise InferenceError(f"column {name}: infinite value")
    return pd.DataFrame(frame, columns=features)


def predict_fn(input_data: Instances, model: LoadedModel) -> np.ndarray:
    """The probability of buying again, one per instance."""
    frame = to_frame(input_data, model)
    return np.asarray(model.estimator.predict_proba(frame)[:, 1], dtype=float)


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """Encode probabilities as CSV (one per line) or JSON; returns ``(body, content_type)``."""
    ctype = media_type(accept) or CSV
    if ctype == "*/*":
        ctype = CSV
    if ctype == CSV:
        return "".join(f"{p:.6f}\n" for p in prediction.tolist()).encode(), CSV
    if ctype == JSON:
        answer = [{"score": round(p, 6), "label": int(p >= THRESHOLD)} for p in prediction.tolist()]
        return json.dumps({"predictions": answer}).encode(), JSON
    raise NotAcceptable(f"cannot answer in {ctype!r}: accept {' or '.join(CONTENT_TYPES)}")


def transform(
    body: bytes, content_type: str | None, accept: str | None, model: LoadedModel
) -> tuple[bytes, str]:
    """``input_fn`` -> ``predict_fn`` -> ``output_fn``, as the toolkit chains them.

    ``accept`` defaults to the request's content type.
    """
    accept_type = media_type(accept)
    if accept_type in ("", "*/*"):
        accept = media_type(content_type) or CSV
    data = input_fn(body, content_type)
    return output_fn(predict_fn(data, model), accept)
