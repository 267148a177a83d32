"""Inference functions and the model artifact: formats, clear errors, checksum on load."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from test_ml_support import csv_row, generated_sales_clean, write_trained_model

from lakelib.ml import (
    InferenceError,
    ModelIntegrityError,
    input_fn,
    model_fn,
    output_fn,
    pack_model_dir,
    predict_fn,
    unpack_artifact,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model")
    frame = generated_sales_clean(root / "samples", days=55, rows_per_day=60)
    write_trained_model(frame, root / "model")
    return root / "model"


def test_csv_and_json_give_the_same_scores(model_dir: Path) -> None:
    model = model_fn(str(model_dir))
    row = csv_row(model.features)
    from_csv = predict_fn(input_fn(f"{row}\n{row}\n".encode(), "text/csv"), model)
    record = dict(zip(model.features, row.split(","), strict=True))
    from_json = predict_fn(input_fn(json.dumps({"instances": [record]}), "application/json"), model)
    as_lists = predict_fn(input_fn(json.dumps([row.split(",")]), "application/json"), model)
    assert from_csv.shape == (2,) and 0.0 <= from_csv[0] <= 1.0
    assert from_json[0] == pytest.approx(from_csv[0]) == pytest.approx(as_lists[0])
    header = ",".join(model.features)
    with_header = predict_fn(input_fn(f"{header}\n{row}\n", "text/csv; charset=utf-8"), model)
    assert with_header[0] == pytest.approx(from_csv[0])


def test_output_formats() -> None:
    body, ctype = output_fn(np.array([0.25, 0.75]), "text/csv")
    assert (body, ctype) == (b"0.250000\n0.750000\n", "text/csv")
    body, ctype = output_fn(np.array([0.75]), "application/json")
    assert ctype == "application/json"
    assert json.loads(body) == {"predictions": [{"score": 0.75, "label": 1}]}
    with pytest.raises(InferenceError) as info:
        output_fn(np.array([0.1]), "application/xml")
    assert info.value.status == 406


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [
        (b"1,2,3", "application/x-npy", 415, "not supported"),
        (b"", "text/csv", 400, "empty body"),
        (b"   \n", "text/csv", 400, "empty body"),
        (b"1,2,3\n", "text/csv", 400, "row 1 has 3 values"),
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'{"instances": []}', "application/json", 400, "at least one instance"),
        (b'{"instances": [{"nope": 1}]}', "application/json", 400, "unknown feature"),
        (b"\xff\xfe", "text/csv", 400, "not UTF-8"),
    ],
)
def test_bad_requests_are_clear_4xx(
    model_dir: Path, body: bytes, ctype: str, status: int, message: str
) -> None:
    model = model_fn(str(model_dir))
    with pytest.raises(InferenceError, match=message) as info:
        predict_fn(input_fn(body, ctype), model)
    assert info.value.status == status


def test_non_numeric_value_names_row_and_column(model_dir: Path) -> None:
    model = model_fn(str(model_dir))
    values = csv_row(model.features).split(",")
    values[1] = "lots"
    with pytest.raises(InferenceError, match=r"row 2, column frequency_7d: 'lots' is not a number"):
        predict_fn(input_fn(f"{csv_row(model.features)}\n{','.join(values)}", "text/csv"), model)


def test_empty_numeric_field_is_a_missing_value(model_dir: Path) -> None:
    model = model_fn(str(model_dir))
    values = csv_row(model.features).split(",")
    values[0] = ""
    assert predict_fn(input_fn(",".join(values), "text/csv"), model).shape == (1,)


def test_artifact_round_trip_and_tamper_detection(model_dir: Path, tmp_path: Path) -> None:
    archive = pack_model_dir(model_dir)
    unpacked = unpack_artifact(archive, tmp_path / "ok")
    assert sorted(p.name for p in unpacked.iterdir()) == ["metadata.json", "model.joblib"]
    metadata = json.loads((unpacked / "metadata.json").read_text())
    assert {"sha256", "features", "metrics", "libraries"} <= set(metadata)
    assert metadata["libraries"]["scikit-learn"]
    model_fn(str(unpacked))

    model_file = unpacked / "model.joblib"
    model_file.write_bytes(model_file.read_bytes() + b"\x00")
    with pytest.raises(ModelIntegrityError, match="checksum mismatch"):
        model_fn(str(unpacked))
    model_file.unlink()
    with pytest.raises(ModelIntegrityError, match="model file missing"):
        model_fn(str(unpacked))
    with pytest.raises(ModelIntegrityError, match=r"not a readable model\.tar\.gz"):
        unpack_artifact(b"not a tarball", tmp_path / "bad")
