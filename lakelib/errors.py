"""One error hierarchy for the whole library.

The CLI turns any :class:`LakeError` into a one-line message on stderr and exit code 1;
anything else is a bug and keeps its traceback (with ``--debug``).
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "CatalogError",
    "ConfigError",
    "EtlError",
    "IngestError",
    "InvalidNameError",
    "LakeError",
    "MlError",
    "NotFoundError",
    "QueryError",
    "StorageError",
    "ValidationError",
]


class LakeError(Exception):
    """Base class for every error the library raises on purpose."""


class ConfigError(LakeError):
    """Settings are missing, malformed or contradictory."""


class ValidationError(LakeError):
    """Input data or an argument does not meet its contract."""


class InvalidNameError(ValidationError):
    """A source, table or zone name is not ``[a-z0-9_]+``."""


class StorageError(LakeError):
    """Reading or writing the lake failed."""


class NotFoundError(StorageError):
    """A key, file or object does not exist."""


class AlreadyExistsError(StorageError):
    """An exclusive create found the key taken (``Store.create_bytes``): nothing was written."""


class IngestError(LakeError):
    """Fetching or landing source data failed."""


class CatalogError(LakeError):
    """The catalog could not be read or updated."""


class QueryError(LakeError):
    """A query could not be translated, planned or run."""


class MlError(LakeError):
    """Training, a model artifact, an endpoint or a batch transform failed."""


class EtlError(LakeError):
    """An ETL job failed, did not reconcile, or could not take its lock."""
