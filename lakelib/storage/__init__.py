"""Lake storage: zone stores, atomic and exclusive writes, the key formats of DESIGN.md.

Landed data is written with ``create_bytes`` (never replaces an object; a taken key raises
:class:`~lakelib.errors.AlreadyExistsError`); ``write_bytes`` atomically replaces, for
documents that are meant to be rewritten (run records, catalogs).

>>> from lakelib.storage import zone_store, RawKey
>>> store = zone_store("raw")                       # doctest: +SKIP
>>> store.create_bytes(RawKey("sales", now, tag="0a1b2c3d").relative, payload)   # doctest: +SKIP
"""

from __future__ import annotations

from lakelib.storage._base import ObjectInfo, StagedObject, Store, clean_key
from lakelib.storage._keys import (
    DATE_PARTITION_KEYS,
    RawKey,
    date_partition,
    parse_partition_path,
    partition_path,
)
from lakelib.storage._local import LocalStore, atomic_write_bytes
from lakelib.storage._names import validate_name
from lakelib.storage._s3 import S3Store, split_s3_uri
from lakelib.storage._zones import (
    ZoneUsage,
    nested_zone_folders,
    open_store,
    zone_store,
    zone_usage,
)

__all__ = [
    "DATE_PARTITION_KEYS",
    "LocalStore",
    "ObjectInfo",
    "RawKey",
    "S3Store",
    "StagedObject",
    "Store",
    "ZoneUsage",
    "atomic_write_bytes",
    "clean_key",
    "date_partition",
    "nested_zone_folders",
    "open_store",
    "parse_partition_path",
    "partition_path",
    "split_s3_uri",
    "validate_name",
    "zone_store",
    "zone_usage",
]
