"""What each runtime ships: exact pins, where they come from, and whether they fit together.

Three pin files in ``deps/`` (written by ``build_artifacts.py lock``, read by the program, the
build step and the tests; nothing here touches the network):

- ``lambda.txt``: what the ingestion Lambda bundles next to lakelib (its third-party imports,
  boto3 included, so the runtime's own, older SDK and urllib3 1.26 are shadowed);
- ``wheelhouse.txt``: lakelib[aws] and its whole dependency closure for CPython 3.11 on
  x86_64 Linux: what EMR's ``python3.11`` installs (it has nothing of its own) and what
  Glue 5 installs where its own libraries do not satisfy the closure;
- ``glue5-provided.txt``: the Python modules AWS Glue 5.0 ships, from AWS's documentation
  ("Python modules already provided in AWS Glue", AWS Glue developer guide), so a wheel that
  replaces one of them is a decision written down in :data:`GLUE5_OVERRIDES`, not an accident.

``requires.json`` records each pinned distribution's ``Requires-Dist`` (from pip's resolver
report), so the resolution pip will do at job start (``--no-index``) can be checked offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DEPS_DIR = Path(__file__).resolve().parent.parent / "deps"
LAMBDA_PINS = DEPS_DIR / "lambda.txt"
WHEELHOUSE_PINS = DEPS_DIR / "wheelhouse.txt"
GLUE5_PROVIDED = DEPS_DIR / "glue5-provided.txt"
REQUIRES = DEPS_DIR / "requires.json"

# Lambda: python3.11 functions cannot be created from 2026-07-31 (AWS's runtime table);
# lakelib supports 3.11 and 3.12 (pyproject requires-python), so 3.12 it is. The bundle's
# compiled wheels (orjson, ijson) must match both the Python and the architecture.
LAMBDA_RUNTIME = "python3.12"
LAMBDA_ARCHITECTURE = "x86_64"
LAMBDA_PYTHON = "3.12"
# Glue 5.0 and EMR 7's python3.11 both run Python 3.11 on Amazon Linux 2023 (glibc 2.34).
GLUE_PYTHON = "3.11"
# Wheel platform tags AL2023 x86_64 accepts (AWS Glue docs, "AWS Glue environment details").
LINUX_X86_64_PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")

# Shipped in the EMR wheelhouse only: EMR 7's python3.11 may lack pip, and the bootstrap
# runs pip straight from its wheel (``python3.11 pip-<v>.whl/pip install --no-index ...``).
EMR_BOOTSTRAP_PINS = ("pip==25.3",)

# What the ingestion Lambda imports beyond the standard library and lakelib (the handler's
# import closure: lakelib.ingest, lakelib.sources, lakelib.storage, lakelib.config).
LAMBDA_ROOTS = ("urllib3", "orjson", "ijson", "boto3")

# Glue 5 modules the wheelhouse replaces on purpose, and why: lakelib's own pins need newer
# versions than Glue ships. The infra tests fail when the set pip would replace changes.
GLUE5_OVERRIDES: Mapping[str, str] = {
    "numpy": "lakelib pins numpy>=2.0 (pyarrow/pandas builds it is tested with); Glue has 1.26",
    "pandas": "lakelib pins pandas==2.3.3, the version its Spark 3.5 null handling is tested on",
    "pyarrow": "lakelib needs pyarrow>=21 (Parquet writes of the local engine); Glue has 17",
    "boto3": "lakelib needs boto3>=1.40: S3 conditional writes (IfNoneMatch) for locks",
    "botocore": "pinned by boto3 1.44 (==botocore of the same release)",
    "s3transfer": "required by the newer boto3",
    "urllib3": "lakelib's HTTP source uses Retry(backoff_max=...), urllib3 2 only",
    "plotly": "lakelib pins plotly==7.1.0: the report inlines its plotly.js (Glue has 5.23)",
}

# Requirements of Glue's own modules that the overrides leave unmet, and why that is safe.
# pip reports them as warnings at job start; the jobs never import these modules.
GLUE5_ACCEPTED_BREAKS: Mapping[str, str] = {
    "aiobotocore": "pins botocore<1.34.132; only s3fs uses it, and lakelib never uses s3fs",
}

_MARKER_ENV = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines (comments and blanks skipped) -> ``{canonical name: version}``.

    Anything but an exact pin is an error: these files say exactly what ships.
    """
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        if match is None:
            raise ValueError(f"{path}:{number}: not an exact pin (name==version): {line!r}")
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def read_requires(path: Path = REQUIRES) -> dict[str, list[str]]:
    """``{"name==version": [Requires-Dist, ...]}`` for every pinned distribution."""
    return {key: list(value) for key, value in json.loads(path.read_text()).items()}


def lakelib_requirements(pyproject: Path, extras: Iterable[str] = ("aws",)) -> list[str]:
    """lakelib's runtime requirements (plus the named extras) as declared in ``pyproject.toml``."""
    import tomllib

    project = tomllib.loads(pyproject.read_text())["project"]
    found = list(project["dependencies"])
    for extra in extras:
        found += project["optional-dependencies"][extra]
    return found


@dataclass(frozen=True)
class Resolution:
    """What pip would end up with: the environment, what it installed, what stays unmet."""

    environment: dict[str, str]
    installed: dict[str, str]
    unmet: list[str]

    def overrides(self, provided: Mapping[str, str]) -> dict[str, str]:
        """Installed distributions that replace a provided one (at another version)."""
        return {n: v for n, v in self.installed.items() if n in provided and provided[n] != v}


def _applies(requirement: Requirement, python: str) -> bool:
    if requirement.marker is None:
        return True
    env = {**_MARKER_ENV, "python_version": python, "python_full_version": f"{python}.0"}
    return requirement.marker.evaluate({**env, "extra": ""})


def resolve(
    roots: Iterable[str],
    available: Mapping[str, str],
    requires: Mapping[str, list[str]],
    *,
    provided: Mapping[str, str] | None = None,
    python: str = GLUE_PYTHON,
) -> Resolution:
    """Resolve ``roots`` the way ``pip install --no-index`` would over one set of wheels.

    ``provided`` is what the runtime already has: pip keeps a provided distribution when its
    version satisfies every requirement on it and installs the pinned wheel otherwise. The
    requirements of the final environment's distributions (provided ones included) that
    still fail are returned as ``unmet`` (``"aiobotocore: botocore<1.34.132 (has 1.44.8)"``).
    """
    env = dict(provided or {})
    installed: dict[str, str] = {}
    wanted = [Requirement(r) for r in roots]
    while True:
        changed = False
        demands = [("<root>", r) for r in wanted] + [
            (name, Requirement(text))
            for name, version in env.items()
            for text in requires.get(f"{name}=={version}", [])
        ]
        for _, req in demands:
            if not _applies(req, python):
                continue
            name = canonicalize_name(req.name)
            have = env.get(name)
            if have is not None and req.specifier.contains(have, prereleases=True):
                continue
            pinned = available.get(name)
            if pinned is not None and pinned != have and req.specifier.contains(pinned, True):
                env[name] = installed[name] = pinned
                changed = True
        if not changed:
            break
    unmet = []
    for owner, req in demands:
        if not _applies(req, python):
            continue
        have = env.get(canonicalize_name(req.name))
        if have is None or not req.specifier.contains(have, prereleases=True):
            unmet.append(f"{owner}: {req.name}{req.specifier} (has {have or 'nothing'})")
    return Resolution(env, installed, sorted(set(unmet)))


def wheel_tags(dist_info: Path) -> list[str]:
    """The ``Tag:`` lines of a ``*.dist-info/WHEEL`` file (``cp312-cp312-manylinux_..._x86_64``)."""
    wheel = dist_info / "WHEEL"
    if not wheel.is_file():
        return []
    return [
        line.split(":", 1)[1].strip()
        for line in wheel.read_text().splitlines()
        if line.startswith("Tag:")
    ]


def check_bundle(folder: Path, pins: Mapping[str, str], *, python: str, machine: str) -> list[str]:
    """Problems of a ``pip install --target`` folder against its pins (empty = it matches).

    Each pinned distribution must be there at its pinned version, and each compiled one
    must be built for this Python (``cp312``) and machine (``x86_64``): a wheel built on a
    laptop (macOS, arm64) imports nowhere on Lambda.
    """
    found: dict[str, tuple[str, Path]] = {}
    for dist_info in folder.glob("*.dist-info"):
        name, _, version = dist_info.name[: -len(".dist-info")].rpartition("-")
        found[canonicalize_name(name)] = (version, dist_info)
    problems = []
    abi = "cp" + python.replace(".", "")
    for name, version in sorted(pins.items()):
        if name not in found:
            problems.append(f"{name}=={version} is pinned but not in the bundle")
            continue
        have, dist_info = found[name]
        if have != version:
            problems.append(f"{name} {have} is bundled, {version} is pinned")
        compiled = [t for t in wheel_tags(dist_info) if not t.endswith("-none-any")]
        if compiled and not any(t.startswith(f"{abi}-") and t.endswith(machine) for t in compiled):
            problems.append(f"{name} is built for {', '.join(compiled)}, not {abi} {machine}")
    return problems
