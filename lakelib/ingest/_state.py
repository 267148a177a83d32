"""What ingestion remembers between runs: landed content hashes and SQL watermarks.

Kept as one JSON document per source in the lake's ``runs`` zone
(``runs/ingest/<source>/state.json``), rewritten atomically after the files it describes
have been written. A run that dies before saving it leaves the state as it was, so a rerun
lands that input again; the ETL's dedup by ``id`` absorbs the repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from lakelib.errors import NotFoundError, StorageError
from lakelib.storage import Store


def state_key(source: str) -> str:
    return f"ingest/{source}/state.json"


@dataclass
class IngestState:
    source: str
    landed: dict[str, dict[str, Any]] = field(default_factory=dict)
    watermarks: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, source: str) -> IngestState:
        try:
            data = orjson.loads(store.read_bytes(state_key(source)))
        except NotFoundError:
            return cls(source)
        except orjson.JSONDecodeError as exc:
            raise StorageError(f"ingest state for {source!r} is corrupt: {exc}") from exc
        return cls(source, dict(data.get("landed", {})), dict(data.get("watermarks", {})))

    def save(self, store: Store) -> None:
        document = {"source": self.source, "landed": self.landed, "watermarks": self.watermarks}
        store.write_bytes(
            state_key(self.source),
            orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
        )

    def has(self, digest: str | None) -> bool:
        return digest is not None and digest in self.landed
