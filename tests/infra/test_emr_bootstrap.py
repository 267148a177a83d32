"""EMR runs lakelib: a bootstrap action from the scripts bucket installs it for python3.11.

Issue 13 item 6: the Pulumi cluster had no bootstrap, ``emr_bootstrap.sh`` was never uploaded,
it installed with ``python3`` (3.9 on EMR 7) and from a package index the private subnets
cannot reach. The script itself runs here for real, with stand-ins for what only an EMR node
has (the ``aws`` CLI reading a folder as S3, ``sudo``, ``/usr/bin/python3.11``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lake_platform.emr import EMR_PYTHON
from pulumi_harness import REPO, Platform

SCRIPT = REPO / "jobs" / "emr_bootstrap.sh"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


def _objects(platform: Platform) -> dict[str, str]:
    """``s3://bucket/key`` -> local source path of every object the program uploads."""
    return {
        f"s3://{o.inputs['bucket']}/{o.inputs['key']}": o.inputs["source"].path
        for o in platform.of_type(OBJECT)
    }


def test_the_cluster_bootstraps_from_uploaded_files(platform: Platform) -> None:
    (cluster,) = platform.of_type("aws:emr/cluster:Cluster")
    (action,) = cluster.inputs["bootstrapActions"]
    scripts = platform.outputs["scripts_bucket"]
    uploaded = _objects(platform)
    assert action["path"] == f"s3://{scripts}/jobs/emr_bootstrap.sh"
    assert uploaded[action["path"]].endswith("jobs/emr_bootstrap.sh")
    (wheelhouse,) = action["args"]
    assert wheelhouse == f"s3://{scripts}/jobs/lib/lakelib-0.1.0-emr7.zip"
    assert wheelhouse in uploaded


def test_spark_on_the_cluster_runs_python_3_11(platform: Platform) -> None:
    (cluster,) = platform.of_type("aws:emr/cluster:Cluster")
    classes = {c["Classification"]: c for c in json.loads(cluster.inputs["configurationsJson"])}
    (export,) = classes["spark-env"]["Configurations"]
    assert export["Classification"] == "export"
    assert export["Properties"]["PYSPARK_PYTHON"] == "/usr/bin/python3.11" == EMR_PYTHON
    defaults = classes["spark-defaults"]["Properties"]
    assert defaults["spark.pyspark.python"] == EMR_PYTHON
    assert defaults["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] == EMR_PYTHON
    assert defaults["spark.executorEnv.PYSPARK_PYTHON"] == EMR_PYTHON
    assert defaults["spark.sql.sources.partitionColumnTypeInference.enabled"] == "false"
    assert "spark-hive-site" in classes


def test_the_script_parses() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(SCRIPT)], check=True)


FAKE_AWS = """#!/bin/bash
# aws s3 cp [--only-show-errors] [--recursive --exclude X --include Y] SRC DST over $FAKE_S3
set -euo pipefail
echo "aws $*" >> "$CALLS"
shift 2
args=()
recursive=false
include=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --only-show-errors) shift ;;
    --recursive) recursive=true; shift ;;
    --exclude) shift 2 ;;
    --include) include="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
src="$FAKE_S3/${args[0]#s3://}"
if [ "$recursive" = true ]; then
  for f in "$src"$include; do [ -e "$f" ] && cp "$f" "${args[1]}"; done
else
  cp "$src" "${args[1]}"
fi
"""
FAKE_SUDO = """#!/bin/bash
echo "sudo $*" >> "$CALLS"
"""
# EMR's python3.11 without pip: `-m pip` fails, everything else is the real interpreter.
FAKE_PYTHON = f"""#!/bin/bash
if [ "${{1:-}}" = "-m" ] && [ "${{2:-}}" = "pip" ]; then exit 1; fi
if [ "${{1:-}}" = "-c" ]; then echo "lakelib imported"; exit 0; fi
exec {sys.executable} "$@"
"""


@pytest.fixture
def node(tmp_path: Path) -> dict[str, str]:
    """A stand-in EMR node: fake S3 bucket folder, aws CLI, sudo and python3.11."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("aws", FAKE_AWS), ("sudo", FAKE_SUDO), ("python3.11", FAKE_PYTHON)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    lib = tmp_path / "s3" / "scripts" / "jobs" / "lib"
    lib.mkdir(parents=True)
    with zipfile.ZipFile(lib / "lakelib-0.1.0-emr7.zip", "w") as archive:
        for wheel in ("lakelib-0.1.0-py3-none-any.whl", "orjson-3.13.0-cp311.whl", "pip-25.3.whl"):
            archive.writestr(f"wheels/{wheel}", b"PK")
        archive.writestr("wheels/requirements.txt", "lakelib[aws]==0.1.0\n")
    (lib / "lakelib-0.1.0-py3-none-any.whl").write_bytes(b"PK")
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_S3": str(tmp_path / "s3"),
        "CALLS": str(tmp_path / "calls.log"),
        "LAKE_EMR_PYTHON": str(bin_dir / "python3.11"),
        "TMPDIR": str(tmp_path),
    }


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def _installs(env: dict[str, str]) -> list[str]:
    calls = Path(env["CALLS"]).read_text().splitlines()
    return [c for c in calls if c.startswith("sudo ")]


@pytest.mark.parametrize(
    "argument",
    [
        "s3://scripts/jobs/lib/lakelib-0.1.0-emr7.zip",
        "s3://scripts/jobs/lib/lakelib-0.1.0-py3-none-any.whl",
    ],
)
def test_the_script_installs_lakelib_with_python_3_11_and_no_index(
    node: dict[str, str], argument: str
) -> None:
    result = _run(node, argument)
    assert result.returncode == 0, result.stderr
    (install,) = _installs(node)
    python = node["LAKE_EMR_PYTHON"]
    words = install.split()
    # sudo <python3.11> <wheelhouse>/pip-25.3.whl/pip install --quiet --no-index --find-links D
    assert words[:2] == ["sudo", python]
    assert words[2].endswith("/pip-25.3.whl/pip")
    assert words[3:][:1] == ["install"]
    assert "--no-index" in words and words[-1] == "lakelib[aws]"
    wheelhouse = Path(words[words.index("--find-links") + 1])
    assert {p.name for p in wheelhouse.glob("*.whl")} >= {
        "lakelib-0.1.0-py3-none-any.whl",
        "orjson-3.13.0-cp311.whl",
    }


def test_the_script_refuses_what_it_cannot_install(node: dict[str, str]) -> None:
    assert _run(node).returncode == 2
    refused = _run(node, "https://pypi.org/simple/lakelib")
    assert refused.returncode == 2
    assert "not an s3:// wheel or wheelhouse zip" in refused.stderr
    assert not Path(node["CALLS"]).exists() or _installs(node) == []
