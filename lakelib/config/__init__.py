"""Workspace settings: profiles, the lake's location, zone URIs and names.

>>> from lakelib.config import get_settings, Zone
>>> get_settings().zone_uri(Zone.RAW)        # doctest: +SKIP
'/home/me/project/.lake/raw'
"""

from lakelib.config._schema import LakeConfig
from lakelib.config._settings import (
    AWS_CONFIG_KEY,
    AWS_ZONE_LAYOUT,
    CONFIG_ENV,
    CONFIG_FILE,
    DEFAULT_DATABASE,
    PROFILES,
    Settings,
    Workgroup,
    Zone,
    aws_config_uri,
    configure,
    find_config,
    get_settings,
    load_settings,
    reset_settings,
)

__all__ = [
    "AWS_CONFIG_KEY",
    "AWS_ZONE_LAYOUT",
    "CONFIG_ENV",
    "CONFIG_FILE",
    "DEFAULT_DATABASE",
    "PROFILES",
    "LakeConfig",
    "Settings",
    "Workgroup",
    "Zone",
    "aws_config_uri",
    "configure",
    "find_config",
    "get_settings",
    "load_settings",
    "reset_settings",
]
