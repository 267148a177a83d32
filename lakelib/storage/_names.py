"""Names that become path segments: sources, tables, zones."""

from __future__ import annotations

import re

from lakelib.errors import InvalidNameError

_NAME = re.compile(r"[a-z0-9_]+")
MAX_NAME_LENGTH = 64


def validate_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a safe lake name, else raise :class:`InvalidNameError`.

    A name becomes a folder and an S3 prefix, so only ``[a-z0-9_]+`` (at most 64 characters)
    is accepted: ``../x``, ``a/b``, ``Sales`` and ``""`` are all refused.

    >>> validate_name("raw_sales", "table")
    'raw_sales'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"invalid {what} name {name!r}: use lowercase letters, digits and '_' "
            f"(at most {MAX_NAME_LENGTH} characters)"
        )
    return name
