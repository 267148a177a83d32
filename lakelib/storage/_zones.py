"""Stores for the lake's zones, chosen once from the settings' URI scheme."""

from __future__ import annotations

from dataclasses import dataclass

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import ConfigError
from lakelib.storage._base import Store
from lakelib.storage._local import LocalStore
from lakelib.storage._s3 import S3Store


def open_store(uri: str) -> Store:
    """A store for a local path (or ``file://`` URI) or an ``s3://bucket/prefix``."""
    if uri.startswith("s3://"):
        return S3Store(uri)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return LocalStore(uri)


def zone_store(zone: Zone | str, settings: Settings | None = None) -> Store:
    """The store rooted at one zone of the lake, for the current (or given) settings.

    The same as ``settings.store(zone)``: made once per settings and zone, then shared.
    """
    return (settings or get_settings()).store(zone)


def nested_zone_folders(zone: Zone | str, settings: Settings | None = None) -> set[str]:
    """Top folders of ``zone`` that are the roots of other zones.

    On AWS several zones share a bucket (``quarantine/`` inside the processed bucket): those
    folders belong to the other zone, not to this one's tables or sizes.
    """
    settings = settings or get_settings()
    zone = Zone(zone)
    root = settings.zone_uri(zone).rstrip("/") + "/"
    nested = set()
    for other in Zone:
        if other is zone:
            continue
        try:
            uri = settings.zone_uri(other)
        except ConfigError:
            continue
        if uri.startswith(root) and uri.rstrip("/") != root.rstrip("/"):
            nested.add(uri[len(root) :].split("/", 1)[0])
    return nested


@dataclass(frozen=True)
class ZoneUsage:
    zone: Zone
    uri: str
    files: int
    bytes: int


def zone_usage(settings: Settings | None = None) -> list[ZoneUsage]:
    """File count and total size of every zone (what ``lake status`` shows)."""
    settings = settings or get_settings()
    usage = []
    for zone in Zone:
        store = settings.store(zone)
        nested = nested_zone_folders(zone, settings)
        files = total = 0
        for info in store.list():
            if info.key.split("/", 1)[0] in nested:
                continue
            files += 1
            total += info.size
        usage.append(ZoneUsage(zone, store.root, files, total))
    return usage
