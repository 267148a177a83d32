"""Ingestion: fetch -> validate -> add metadata -> gzip -> land in the raw zone.

The same run serves the CLI (``lake ingest``), the Lambda handler (:func:`handler`) and the
webhook (``lake serve-ingest``).

>>> from lakelib.ingest import ingest
>>> summary = ingest("sales", "samples/sales/sales_20260101.jsonl")   # doctest: +SKIP
>>> summary.landed, summary.quarantined                              # doctest: +SKIP
(9870, 52)

Or with the options grouped: where and how to read (:class:`SourceSpec`) apart from how to
land (:class:`LandingOptions`):

>>> land("sales", SourceSpec("https://api.example.com/sales", retries=5),
...      LandingOptions(force=True))                                  # doctest: +SKIP
"""

from lakelib.ingest._contract import TYPES, Contract, load_contract
from lakelib.ingest._lambda import handler
from lakelib.ingest._run import (
    IngestSummary,
    LandingOptions,
    SourceSpec,
    ingest,
    land,
    quarantine_table,
)
from lakelib.ingest._state import IngestState
from lakelib.ingest._webhook import DEFAULT_MAX_BODY, WebhookServer, make_webhook_server

__all__ = [
    "DEFAULT_MAX_BODY",
    "TYPES",
    "Contract",
    "IngestState",
    "IngestSummary",
    "LandingOptions",
    "SourceSpec",
    "WebhookServer",
    "handler",
    "ingest",
    "land",
    "load_contract",
    "make_webhook_server",
    "quarantine_table",
]
