"""The model registry: versions of a model in the lake's models zone, and which one is live.

Layout in the models zone (a folder locally, ``s3://<scripts bucket>/models/`` on AWS)::

    <model>/registry.json               {"model", "promoted", "versions": [...]}
    <model>/<version>/model.tar.gz      model.joblib + metadata.json (SageMaker's layout)

Versions are ``v1``, ``v2``...; one trainer at a time per model (the registry document is
rewritten atomically, not merged).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import MlError, NotFoundError
from lakelib.ml._artifact import ARTIFACT_FILE, unpack_artifact, verify_model_dir
from lakelib.ml._inference import LoadedModel, model_fn
from lakelib.storage import Store, validate_name

log = logging.getLogger(__name__)

REGISTRY_FILE = "registry.json"
DEFAULT_MODEL_NAME = "churn"
COMPARED_METRICS = ("roc_auc", "pr_auc", "baseline_prior_pr_auc", "baseline_recency_roc_auc")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: where its artifact is and what its metadata says."""

    model: str
    version: str
    created_at: str
    artifact: str
    sha256: str
    metrics: dict[str, float] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    source: str = "local"

    @property
    def number(self) -> int:
        return int(self.version.lstrip("v"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_settings(settings: Settings | None = None) -> dict[str, Any]:
    """``[ml]`` of ``lake.toml``, with defaults."""
    settings = settings or get_settings()
    section = dict(settings.section("ml"))
    section.setdefault("model_name", DEFAULT_MODEL_NAME)
    section.setdefault("endpoint_name", f"{section['model_name']}-model")
    return section


class ModelRegistry:
    """Versions of one model.

    Examples
    --------
    >>> registry = ModelRegistry("churn")                          # doctest: +SKIP
    >>> [v.version for v in registry.versions()], registry.promoted_version()  # doctest: +SKIP
    (['v1', 'v2'], 'v2')
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        settings: Settings | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.name = name or str(model_settings(self.settings)["model_name"])
        validate_name(self.name, "model")
        self.store = store or self.settings.store(Zone.MODELS)

    # -- the registry document ------------------------------------------------------------
    def _document(self) -> dict[str, Any]:
        try:
            data = json.loads(self.store.read_bytes(f"{self.name}/{REGISTRY_FILE}"))
        except NotFoundError:
            return {"model": self.name, "promoted": None, "versions": []}
        except ValueError as exc:
            raise MlError(f"registry of model {self.name} is corrupt: {exc}") from exc
        return dict(data)

    def _save(self, document: dict[str, Any]) -> None:
        body = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
        self.store.write_bytes(f"{self.name}/{REGISTRY_FILE}", body)

    def versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        return [ModelVersion(**entry) for entry in self._document()["versions"]]

    def get(self, version: str | None = None) -> ModelVersion:
        """A version by name; ``None`` means the promoted one."""
        document = self._document()
        wanted = version or document.get("promoted")
        if wanted is None:
            if not document["versions"]:
                raise MlError(f"model {self.name} has no versions: run lake train first")
            raise MlError(f"model {self.name} has no promoted version: lake models promote V")
        for entry in document["versions"]:
            if entry["version"] == wanted:
                return ModelVersion(**entry)
        known = ", ".join(e["version"] for e in document["versions"]) or "none"
        raise MlError(f"model {self.name} has no version {wanted!r} (known: {known})")

    def promoted_version(self) -> str | None:
        promoted = self._document().get("promoted")
        return str(promoted) if promoted else None

    # -- changing it ----------------------------------------------------------------------
    def add(
        self, artifact: bytes, metadata: dict[str, Any], *, source: str = "local"
    ) -> ModelVersion:
        """Store ``model.tar.gz`` bytes as the next version (not promoted)."""
        document = self._document()
        number = 1 + max((int(e["version"].lstrip("v")) for e in document["versions"]), default=0)
        version = f"v{number}"
        key = f"{self.name}/{version}/{ARTIFACT_FILE}"
        self.store.write_bytes(key, artifact)
        entry = ModelVersion(
            model=self.name,
            version=version,
            created_at=str(metadata.get("created_at") or _now()),
            artifact=self.store.url(key),
            sha256=str(metadata["sha256"]),
            metrics={k: float(v) for k, v in dict(metadata.get("metrics", {})).items()},
            training_data=dict(metadata.get("training_data", {})),
            libraries=dict(metadata.get("libraries", {})),
            features=list(metadata.get("features", [])),
            source=source,
        )
        document["versions"].append(entry.as_dict())
        self._save(document)
        log.info("registered %s %s at %s", self.name, version, entry.artifact)
        return entry

    def promote(self, version: str) -> ModelVersion:
        """Make ``version`` the live one (what deploy and transform use by default)."""
        entry = self.get(version)
        document = self._document()
        document["promoted"] = entry.version
        document.setdefault("history", []).append({"promoted": entry.version, "at": _now()})
        self._save(document)
        return entry

    # -- reading models -------------------------------------------------------------------
    def artifact_bytes(self, version: str | None = None) -> bytes:
        entry = self.get(version)
        try:
            return self.store.read_bytes(f"{self.name}/{entry.version}/{ARTIFACT_FILE}")
        except NotFoundError:
            raise MlError(
                f"model {self.name} {entry.version}: artifact missing at {entry.artifact}"
            ) from None

    def unpack(self, folder: Path, version: str | None = None) -> dict[str, Any]:
        """Extract a version's artifact into ``folder`` and verify it; returns its metadata."""
        unpack_artifact(self.artifact_bytes(version), folder)
        metadata = verify_model_dir(folder)
        entry = self.get(version)
        if metadata["sha256"] != entry.sha256:
            raise MlError(
                f"model {self.name} {entry.version}: the artifact's checksum "
                f"{metadata['sha256'][:12]}... is not the registered {entry.sha256[:12]}..."
            )
        return metadata

    def load(self, version: str | None = None) -> LoadedModel:
        """Load a version (default: promoted) through ``model_fn``, checksums verified."""
        with self.unpacked(version) as folder:
            return model_fn(str(folder))

    @contextmanager
    def unpacked(self, version: str | None = None) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix=f"lake-model-{self.name}-") as tmp:
            folder = Path(tmp)
            self.unpack(folder, version)
            yield folder

    def compare(self, first: str, second: str) -> list[tuple[str, float | None, float | None]]:
        """``(metric, first, second)`` rows for the metrics both versions may have."""
        a, b = self.get(first), self.get(second)
        names = [m for m in COMPARED_METRICS if m in a.metrics or m in b.metrics]
        names += sorted((set(a.metrics) | set(b.metrics)) - set(names))
        return [(m, a.metrics.get(m), b.metrics.get(m)) for m in names]


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
