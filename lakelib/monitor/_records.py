"""Run records: what each pipeline run and each of its stages did, kept in the lake.

Locally a record is a JSON document in the ``runs`` zone (``<date>/<pipeline>.run.json``,
beside that date's report and executed notebooks),
rewritten atomically after every stage, so ``lake status`` and a resumed run see exactly
which stages finished. On AWS the same documents go to the scripts bucket's ``runs/``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from lakelib._stamps import utc_now
from lakelib.errors import NotFoundError, StorageError
from lakelib.storage import Store

PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
)
_RUN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class StageRecord:
    """One stage of one run: its state, attempts, timings, metrics and the error if any."""

    name: str
    status: str = PENDING
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunRecord:
    """One run of a pipeline for one date."""

    pipeline: str
    run_date: str
    run_id: str
    status: str = RUNNING
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    stages: list[StageRecord] = field(default_factory=list)
    attempts: int = 1

    @property
    def key(self) -> str:
        return record_key(self.pipeline, self.run_date)

    def stage(self, name: str) -> StageRecord:
        for stage in self.stages:
            if stage.name == name:
                return stage
        record = StageRecord(name)
        self.stages.append(record)
        return record

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        stages = [StageRecord(**stage) for stage in data.get("stages", [])]
        fields = {k: v for k, v in data.items() if k != "stages"}
        return cls(**fields, stages=stages)

    def save(self, store: Store) -> None:
        store.write_bytes(self.key, orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2))


def record_key(pipeline: str, run_date: str) -> str:
    return f"{run_date}/{pipeline}.run.json"


def load_run(store: Store, pipeline: str, run_date: str) -> RunRecord | None:
    """The record of ``pipeline`` for ``run_date`` (``YYYY-MM-DD``), or ``None``."""
    try:
        data = orjson.loads(store.read_bytes(record_key(pipeline, run_date)))
    except NotFoundError:
        return None
    except orjson.JSONDecodeError as exc:
        raise StorageError(f"run record {pipeline}/{run_date} is corrupt: {exc}") from exc
    return RunRecord.from_dict(data)


def recent_runs(store: Store, pipeline: str, limit: int = 10) -> list[RunRecord]:
    """The latest ``limit`` runs of a pipeline, newest date first."""
    name = f"{pipeline}.run.json"
    keys = sorted(
        (
            info.key
            for info in store.list()
            if _RUN_DATE.fullmatch(info.key.split("/")[0]) and info.key.endswith(f"/{name}")
        ),
        reverse=True,
    )
    runs = []
    for key in keys[:limit]:
        record = load_run(store, pipeline, key.split("/")[0])
        if record is not None:
            runs.append(record)
    return runs
