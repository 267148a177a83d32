"""Shared console objects: human output to stderr-safe rich consoles, data to stdout."""

from __future__ import annotations

from rich.console import Console

# Tables and summaries go to stdout; progress and errors go to stderr so that
# `--format csv|json` output on stdout stays machine-readable.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def human_bytes(size: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
