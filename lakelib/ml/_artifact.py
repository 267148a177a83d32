"""The model artifact: ``model.joblib`` + ``metadata.json`` in a folder, or in ``model.tar.gz``.

The folder is what a training script leaves in ``SM_MODEL_DIR`` and what SageMaker tars into
``model.tar.gz`` (and untars into ``/opt/ml/model`` for serving). ``metadata.json`` records the
sha256 of ``model.joblib``; :func:`load_model_dir` refuses a model whose bytes differ.

Runs inside SageMaker's scikit-learn container too: standard library + joblib, Python 3.9.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
from pathlib import Path
from typing import Any

from lakelib.errors import MlError

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
ARTIFACT_FILE = "model.tar.gz"
FORMAT_VERSION = 1


class ModelIntegrityError(MlError):
    """The model file is missing, unreadable, or not the one its metadata describes."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions a loader must match to unpickle the model safely."""
    import joblib
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
    }


def write_model_dir(folder: Path | str, estimator: Any, metadata: dict[str, Any]) -> dict[str, Any]:
    """Dump the estimator and its metadata (checksum and library versions added) into ``folder``."""
    import joblib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / MODEL_FILE
    joblib.dump(estimator, model_path)
    document = dict(metadata)
    document.update(
        format_version=FORMAT_VERSION,
        model_file=MODEL_FILE,
        sha256=sha256_file(model_path),
        libraries=library_versions(),
    )
    tmp = folder / f".{METADATA_FILE}.tmp"
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True, default=str))
    os.replace(tmp, folder / METADATA_FILE)
    return document


def read_metadata(folder: Path | str) -> dict[str, Any]:
    path = Path(folder) / METADATA_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelIntegrityError(f"no {METADATA_FILE} in {folder}: not a model folder") from None
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"unreadable {path}: {exc}") from exc
    if not isinstance(document, dict) or "sha256" not in document:
        raise ModelIntegrityError(f"{path} has no model checksum")
    return document


def verify_model_dir(folder: Path | str) -> dict[str, Any]:
    """The metadata, after checking that ``model.joblib`` has the recorded sha256."""
    metadata = read_metadata(folder)
    model_path = Path(folder) / str(metadata.get("model_file", MODEL_FILE))
    if not model_path.is_file():
        raise ModelIntegrityError(f"model file missing: {model_path}")
    actual = sha256_file(model_path)
    if actual != metadata["sha256"]:
        raise ModelIntegrityError(
            f"checksum mismatch for {model_path}: metadata says {metadata['sha256'][:12]}..., "
            f"file is {actual[:12]}... (the model was changed or corrupted; retrain or "
            "restore it)"
        )
    return metadata


def load_model_dir(folder: Path | str) -> tuple[Any, dict[str, Any]]:
    """Load a verified model folder: ``(estimator, metadata)``."""
    import joblib

    metadata = verify_model_dir(folder)
    model_path = Path(folder) / str(metadata.get("model_file", MODEL_FILE))
    try:
        estimator = joblib.load(model_path)
    except Exception as exc:  # unpickling can raise anything
        raise ModelIntegrityError(f"cannot load {model_path}: {exc}") from exc
    return estimator, metadata


def pack_model_dir(folder: Path | str) -> bytes:
    """``model.tar.gz`` bytes of a model folder (files at the archive's root, as SageMaker)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                archive.add(path, arcname=path.relative_to(folder).as_posix())
    return buffer.getvalue()


def unpack_artifact(data: bytes, folder: Path | str) -> Path:
    """Extract ``model.tar.gz`` bytes into ``folder`` (refusing links and paths outside it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                target = (folder / member.name).resolve()
                if not member.isfile() or not str(target).startswith(str(folder.resolve())):
                    raise ModelIntegrityError(f"unsafe entry in model archive: {member.name!r}")
                source = archive.extractfile(member)
                if source is None:
                    raise ModelIntegrityError(f"unreadable entry in model archive: {member.name}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ModelIntegrityError(f"not a readable model.tar.gz: {exc}") from exc
    return folder
