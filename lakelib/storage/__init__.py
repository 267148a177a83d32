"""Lake storage: zone stores, atomic writes and the key formats of DESIGN.md.

>>> from lakelib.storage import zone_store, RawKey
>>> store = zone_store("raw")                       # doctest: +SKIP
>>> store.write_bytes(RawKey("sales", now).relative, payload)   # doctest: +SKIP
"""

from __future__ import annotations

from lakelib.storage._base import ObjectInfo, Store, clean_key
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
