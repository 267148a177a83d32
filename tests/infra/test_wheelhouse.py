"""Glue and EMR install lakelib from prebuilt wheels Pulumi uploads; never from an index.

Issue 13 item 11: every Glue job pip-installed ~45 packages from a package index at start
(the private subnets have no NAT), and nothing checked that they coexist with the libraries
Glue 5 ships. The pins (``infra/pulumi/deps/``) are checked here offline: pip's resolution
at job start is replayed over the recorded ``Requires-Dist`` of every pinned distribution.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lake_platform import deps
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pulumi_harness import REPO, Platform

JOB = "aws:glue/job:Job"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
PYPROJECT = REPO / "pyproject.toml"


def _uploaded(platform: Platform) -> set[str]:
    return {f"s3://{o.inputs['bucket']}/{o.inputs['key']}" for o in platform.of_type(OBJECT)}


def _s3_references(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _s3_references(item)
    elif isinstance(value, str):
        yield from (part for part in value.split(",") if part.startswith("s3://"))


def test_glue_jobs_reference_only_objects_pulumi_uploads(platform: Platform) -> None:
    uploaded = _uploaded(platform)
    buckets = {o.inputs["bucket"] for o in platform.of_type("aws:s3/bucket:Bucket")}
    jobs = platform.of_type(JOB)
    assert len(jobs) == 2  # sales_clean, curate: the pipeline's other stages run on SageMaker
    for job in jobs:
        inputs = job.inputs
        args = inputs["defaultArguments"]
        for uri in _s3_references({"script": inputs["command"]["scriptLocation"], **args}):
            if uri.endswith("/"):  # a prefix the job writes to (--TempDir): a lake bucket
                assert uri.split("/")[2] in buckets, (job.name, uri)
            else:
                assert uri in uploaded, (job.name, uri)
        # Every module is an uploaded S3 object (no `name==version` for pip to fetch) ...
        modules = args["--additional-python-modules"].split(",")
        assert all(m in uploaded for m in modules), (job.name, modules)
        assert modules == [m for m in modules if m.endswith(".gluewheels.zip")]
        # ... and pip may not reach an index for their dependencies either.
        assert "--no-index" in args["--python-modules-installer-option"].split()


def test_pin_files_are_exact_and_cover_lakelibs_requirements() -> None:
    pins = deps.read_pins(deps.WHEELHOUSE_PINS)
    for text in deps.lakelib_requirements(PYPROJECT):
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is a lakelib requirement but not in wheelhouse.txt"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} breaks {text}: re-lock"
    requires = deps.read_requires()
    for name, version in pins.items():
        assert f"{name}=={version}" in requires, f"no Requires-Dist recorded for {name}"


def test_the_emr_wheelhouse_is_the_whole_closure() -> None:
    """EMR's python3.11 has nothing of its own: every requirement resolves from the pins."""
    pins = deps.read_pins(deps.WHEELHOUSE_PINS)
    roots = deps.lakelib_requirements(PYPROJECT)
    emr = deps.resolve(roots, pins, deps.read_requires())
    assert emr.unmet == []
    assert emr.installed == pins  # and nothing pinned is left unused


def test_the_glue_wheel_set_replaces_only_the_documented_glue_5_modules() -> None:
    provided = deps.read_pins(deps.GLUE5_PROVIDED)
    pins = deps.read_pins(deps.WHEELHOUSE_PINS)
    requires = deps.read_requires()
    glue = deps.resolve(deps.lakelib_requirements(PYPROJECT), pins, requires, provided=provided)
    # What pip replaces on Glue 5 is exactly what GLUE5_OVERRIDES says, with its reason.
    assert set(glue.overrides(provided)) == set(deps.GLUE5_OVERRIDES)
    # Requirements of Glue's own modules that the replacements break: only the accepted ones
    # (Glue 5's list alone already leaves some unmet, e.g. virtualenv's; those are not ours).
    baseline = set(deps.resolve([], {}, requires, provided=provided).unmet)
    broken = sorted(set(glue.unmet) - baseline)
    assert {line.split(":")[0] for line in broken} == set(deps.GLUE5_ACCEPTED_BREAKS), broken
    # lakelib itself is satisfied on Glue 5.
    assert not [line for line in glue.unmet if line.startswith("<root>")]


def test_resolution_keeps_a_provided_module_that_satisfies_every_requirement() -> None:
    requires = {"a==2.0": ["b>=1"], "b==1.5": [], "b==2.0": []}
    kept = deps.resolve(["a==2.0"], {"a": "2.0", "b": "2.0"}, requires, provided={"b": "1.5"})
    assert kept.installed == {"a": "2.0"}
    replaced = deps.resolve(
        ["a==2.0", "b>=2"], {"a": "2.0", "b": "2.0"}, requires, provided={"b": "1.5"}
    )
    assert replaced.overrides({"b": "1.5"}) == {"b": "2.0"}
    missing = deps.resolve(["a==2.0", "c"], {"a": "2.0"}, requires)
    assert missing.unmet == ["<root>: c (has nothing)", "a: b>=1 (has nothing)"]


def test_glue_5_provided_list_names_its_source() -> None:
    header = Path(deps.GLUE5_PROVIDED).read_text().splitlines()[:4]
    assert any("AWS Glue developer guide" in line for line in header)
    assert any("AWS Glue version 5.0" in line for line in header)
    provided = deps.read_pins(deps.GLUE5_PROVIDED)
    assert provided["pandas"] == "2.2.2" and provided["urllib3"] == "1.25.10"


def test_a_loose_pin_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose.txt"
    loose.write_text("# fine\norjson==3.13.0\nurllib3>=2\n")
    with pytest.raises(ValueError, match=r"loose.txt:3: not an exact pin"):
        deps.read_pins(loose)


def test_the_build_step_is_documented() -> None:
    readme = (REPO / "infra" / "pulumi" / "README.md").read_text()
    assert "python infra/pulumi/build_artifacts.py" in readme
    assert "gluewheels.zip" in readme and "--no-index" in readme
