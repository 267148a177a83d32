"""A request body (webhook): one JSON document or JSON lines, already in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from lakelib.errors import ValidationError
from lakelib.sources._base import DEFAULT_BATCH_SIZE, DEFAULT_MAX_RECORD_BYTES, Item, failed
from lakelib.sources._files import _parse_json_line, strip_bom

JSON_TYPES = ("application/json",)
JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")


@dataclass
class PayloadUnit:
    body: bytes
    origin: str
    json_lines: bool
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def items(self) -> list[Item]:
        if self.json_lines:
            lines = (line.rstrip(b"\r") for line in self.body.split(b"\n"))
            return [
                _parse_json_line(line, n, self.max_record_bytes)
                for n, line in enumerate(lines, 1)
                if line.strip()
            ]
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"body is not valid JSON: {exc}") from exc
        values = value if isinstance(value, list) else [value]
        return [
            Item(v, None, None, n)
            if isinstance(v, dict)
            else failed("not_an_object: element is not a JSON object", orjson.dumps(v), n)
            for n, v in enumerate(values, 1)
        ]

    def batches(self, size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[Item]]:
        items = self.items()
        for start in range(0, len(items), size):
            yield items[start : start + size]


class PayloadSource:
    """Records posted to the webhook.

    ``application/json`` is one document (an object or an array of objects) and must parse;
    JSON lines (``application/x-ndjson``) are parsed line by line, bad lines quarantined.
    Without a known content type, a body whose first line is the whole body is JSON,
    otherwise JSON lines.
    """

    kind = "payload"

    def __init__(self, body: bytes, origin: str, content_type: str = "") -> None:
        body = strip_bom(body)
        ctype = content_type.split(";")[0].strip().lower()
        if ctype in JSON_LINES_TYPES:
            json_lines = True
        elif ctype in JSON_TYPES:
            json_lines = False
        else:
            stripped = body.strip()
            json_lines = not stripped.startswith(b"[") and b"\n" in stripped
        self.unit = PayloadUnit(body, origin, json_lines)

    def describe(self) -> str:
        return self.unit.origin

    def units(self) -> Iterator[PayloadUnit]:
        yield self.unit
