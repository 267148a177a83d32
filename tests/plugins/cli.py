"""The ``lake`` fixture: the CLI in a subprocess, as a user runs it.

>>> def test_status(lake: LakeCli, lake_home: Path) -> None:      # doctest: +SKIP
...     result = lake("status", home=lake_home)
...     assert result.returncode == 0, result.stderr
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class LakeCli:
    """``lake ARGS`` (``python -m lakelib``) in a subprocess; returns the finished process.

    The environment is the test's without any ``LAKE_*`` variable (so a ``lake.toml`` in
    ``cwd`` decides where the lake is) plus ``LAKE_HOME`` when ``home`` is given, a wide
    terminal (``COLUMNS=200``) so rich tables are not wrapped, and ``env`` on top. ``cwd``
    defaults to the repository, whose ``lake.toml`` then applies.
    """

    def __call__(
        self,
        *args: str,
        home: Path | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}
        environ["COLUMNS"] = "200"
        if home is not None:
            environ["LAKE_HOME"] = str(home)
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "lakelib", *args],
            cwd=cwd or REPO,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture
def lake() -> LakeCli:
    """Run the ``lake`` CLI in a subprocess (see :class:`LakeCli`)."""
    return LakeCli()
