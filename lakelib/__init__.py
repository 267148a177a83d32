"""lakelib: a zoned data lake and ML workspace, on one laptop or on AWS.

The notebook user's front door. Everything is loaded on first use, so ``import lakelib``
stays instant (the ``lake`` CLI imports it too):

>>> import lakelib as lk
>>> lk.__version__                                                  # doctest: +SKIP
'0.1.0'
>>> df = lk.read_table("sales_clean", columns=["customer_id", "amount"],
...                    partitions={"year": "2026", "month": "01"})   # doctest: +SKIP
>>> lk.write_table(features, "features_rfm", partition_cols=["as_of"],
...                mode="overwrite_partitions")                      # doctest: +SKIP
>>> lk.read_sql("SELECT count(*) AS n FROM features_rfm")            # doctest: +SKIP
>>> lk.catalog.tables()                                              # doctest: +SKIP

The stage packages are attributes too: ``lk.query.run_query``, ``lk.catalog.open_catalog``,
``lk.ml``, ``lk.report``...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use
    from lakelib import (
        aws,
        catalog,
        config,
        errors,
        etl,
        ingest,
        ml,
        monitor,
        pipeline,
        query,
        report,
        samples,
        sources,
        storage,
        tables,
    )
    from lakelib.tables import WriteResult, read_sql, read_table, write_table

# Sub-packages loaded on first attribute access (``lk.query``) instead of at import.
_SUBMODULES = frozenset(
    {
        "aws",
        "catalog",
        "config",
        "errors",
        "etl",
        "ingest",
        "ml",
        "monitor",
        "pipeline",
        "query",
        "report",
        "samples",
        "sources",
        "storage",
        "tables",
    }
)
# Functions of the public face, with the module that defines them.
_FUNCTIONS = {
    "read_table": "lakelib.tables",
    "read_sql": "lakelib.tables",
    "write_table": "lakelib.tables",
    "WriteResult": "lakelib.tables",
}

__all__ = [
    "WriteResult",
    "__version__",
    "aws",
    "catalog",
    "config",
    "errors",
    "etl",
    "ingest",
    "ml",
    "monitor",
    "pipeline",
    "query",
    "read_sql",
    "read_table",
    "report",
    "samples",
    "sources",
    "storage",
    "tables",
    "write_table",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lakelib")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _SUBMODULES:
        value = importlib.import_module(f"lakelib.{name}")
    elif name in _FUNCTIONS:
        value = getattr(importlib.import_module(_FUNCTIONS[name]), name)
    else:
        raise AttributeError(f"module 'lakelib' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
