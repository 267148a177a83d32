"""Write the sample sources and their manifest."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakelib.errors import StorageError, ValidationError
from lakelib.samples._reference import (
    CATEGORIES,
    build_customers,
    build_products,
    customers_csv,
    products_csv,
)
from lakelib.samples._sales import build_sales
from lakelib.samples._spec import SOURCES, GeneratorSpec
from lakelib.storage import atomic_write_bytes, validate_name

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
_SALES_FILE = re.compile(r"sales_\d{8}\.jsonl")


def generate(source: str, out: Path | str, spec: GeneratorSpec | None = None) -> dict[str, Any]:
    """Write one sample source under ``out`` and record it in ``out/manifest.json``.

    Parameters
    ----------
    source
        One of :data:`SOURCES`: ``"sales"``, ``"customers"`` or ``"products"``.
    out
        Folder to write into; the source goes to ``out/<source>/``. Created if missing.
    spec
        Period, volume, seed and dirt rates (default :class:`GeneratorSpec`: 60 days of
        10,000 sales, seed 42, the default dirt rates).

    Returns
    -------
    dict
        The source's manifest entry (the same object written under ``manifest.json[source]``).

    Raises
    ------
    ValidationError
        ``source`` is not a safe name or not a known source.

    Examples
    --------
    >>> entry = generate("sales", tmp, GeneratorSpec(days=3, rows_per_day=200))  # doctest: +SKIP
    >>> entry["lines"] - entry["rejected"] - entry["duplicate_lines"]  # doctest: +SKIP
    650
    """
    validate_name(source, "source")
    if source not in SOURCES:
        raise ValidationError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")
    spec = spec or GeneratorSpec()
    root = Path(out)
    entry = _WRITERS[source](root, spec)
    _merge_manifest(root, {source: entry})
    logger.info("generated %s in %s: %s lines", source, root, entry.get("lines"))
    return entry


def generate_all(out: Path | str, spec: GeneratorSpec | None = None) -> dict[str, dict[str, Any]]:
    """Write every source of :data:`SOURCES` under ``out``; returns ``{source: entry}``.

    The sales are byte for byte those that ``generate("sales", out, spec)`` writes.
    """
    spec = spec or GeneratorSpec()
    root = Path(out)
    entries = {source: _WRITERS[source](root, spec) for source in SOURCES}
    _merge_manifest(root, entries)
    return entries


def read_manifest(out: Path | str) -> dict[str, Any]:
    """The manifest under ``out`` (``{}`` when there is none yet)."""
    path = Path(out) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise StorageError(f"cannot read sample manifest {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise StorageError(f"sample manifest {path} is not a JSON object")
    return data


def _merge_manifest(root: Path, entries: dict[str, dict[str, Any]]) -> None:
    manifest = read_manifest(root)
    manifest.update(entries)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(root / MANIFEST_FILE, text.encode())


def _reference_entry(spec: GeneratorSpec) -> dict[str, Any]:
    described = spec.describe()
    del described["rates"]  # reference data does not depend on the dirt rates
    return described


def _write_customers(root: Path, spec: GeneratorSpec) -> dict[str, Any]:
    customers = build_customers(spec)
    atomic_write_bytes(root / "customers" / "customers.csv", customers_csv(customers, spec.start))
    return {
        **_reference_entry(spec),
        "files": 1,
        "rows": len(customers),
        "signups_in_period": int((customers.signup_day >= 0).sum()),
        "file_lines": {"customers/customers.csv": len(customers) + 1},
    }


def _write_products(root: Path, spec: GeneratorSpec) -> dict[str, Any]:
    products = build_products(spec)
    atomic_write_bytes(root / "products" / "products.csv", products_csv(products))
    return {
        **_reference_entry(spec),
        "files": 1,
        "rows": len(products.ids),
        "categories": sorted({CATEGORIES[c] for c in products.category.tolist()}),
        "file_lines": {"products/products.csv": len(products.ids) + 1},
    }


def _write_sales(root: Path, spec: GeneratorSpec) -> dict[str, Any]:
    sales = build_sales(spec, build_customers(spec), build_products(spec))
    folder = root / "sales"
    for name, data in sales.files.items():
        atomic_write_bytes(folder / name, data)
    # A previous, longer run would leave files this manifest does not count.
    if folder.is_dir():
        for stale in sorted(folder.iterdir()):
            if _SALES_FILE.fullmatch(stale.name) and stale.name not in sales.files:
                logger.info("removing %s from an earlier run", stale)
                stale.unlink()
    return {**spec.describe(), **sales.manifest}


_WRITERS: dict[str, Callable[[Path, GeneratorSpec], dict[str, Any]]] = {
    "sales": _write_sales,
    "customers": _write_customers,
    "products": _write_products,
}
