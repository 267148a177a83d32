"""The ingestion Lambda: a runtime AWS lets you create, and a bundle that pins what it ships.

Issue 13 items 1 and 7: python3.11 functions cannot be created from 2026-07-31, and
lakelib's HTTP retries need urllib3 2 (``Retry(backoff_max=...)`` raises on 1.26, which
the Lambda runtime's own botocore brings), while nothing pinned what the function bundled.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from lake_platform import deps
from lake_platform.settings import PlatformConfigError
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from pulumi_harness import REPO, Platform, lambda_bundle, run_program, stack_config

FUNCTION = "aws:lambda/function:Function"
PYPROJECT = REPO / "pyproject.toml"


def _python(runtime: str) -> str:
    assert runtime.startswith("python"), runtime
    return runtime.removeprefix("python")


def _lakelib_requirements() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return {canonicalize_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]}


def test_the_runtime_is_creatable_and_one_lakelib_supports(platform: Platform) -> None:
    (function,) = platform.of_type(FUNCTION)
    python = _python(function.inputs["runtime"])
    # AWS blocks creating python3.11 functions from 2026-07-31 (FACTS.md, Lambda runtimes).
    assert tuple(map(int, python.split("."))) >= (3, 12)
    requires_python = tomllib.loads(PYPROJECT.read_text())["project"]["requires-python"]
    assert SpecifierSet(requires_python).contains(f"{python}.0"), requires_python
    # The bundle is built for the Python and machine the function runs.
    assert python == deps.LAMBDA_PYTHON
    assert function.inputs["architectures"] == [deps.LAMBDA_ARCHITECTURE]


def test_the_bundle_pins_what_lakelib_needs_urllib3_2_included() -> None:
    pins = deps.read_pins(deps.LAMBDA_PINS)
    needs = _lakelib_requirements()
    for name in deps.LAMBDA_ROOTS:
        assert name in pins, f"{name} is imported by the handler but not bundled"
        assert needs[name].specifier.contains(pins[name]), (name, pins[name], needs[name])
    # lakelib/sources/_http.py builds Retry(backoff_max=...): urllib3 2 only.
    assert pins["urllib3"].split(".")[0] == "2"
    # The pins are the whole closure of the handler's imports on the Lambda's Python: pip
    # installs nothing else, and the runtime's own boto3/urllib3 are shadowed.
    roots = [str(needs[name]) for name in deps.LAMBDA_ROOTS]
    resolved = deps.resolve(roots, pins, deps.read_requires(), python=deps.LAMBDA_PYTHON)
    assert resolved.unmet == []
    assert resolved.installed == pins


def test_the_installed_urllib3_builds_lakelibs_retry() -> None:
    """The pinned major is the one the library's retry code runs on in this venv too."""
    import urllib3

    from lakelib.sources._http import HttpSource

    pool = HttpSource("http://127.0.0.1:9/", retries=2, backoff=0.1, max_backoff=1.0).pool
    assert pool.connection_pool_kw["retries"].backoff_max == 1.0
    assert urllib3.__version__.split(".")[0] == deps.read_pins(deps.LAMBDA_PINS)["urllib3"][0]


def _deploy_with_bundle(tmp: Path, bundle: Path) -> Platform:
    config = stack_config(tmp)
    config["ingest"] = {**config["ingest"], "dependenciesDir": str(bundle)}
    return run_program(config)


def test_a_bundle_with_urllib3_1_fails_the_deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("old-urllib3")
    pins = {**deps.read_pins(deps.LAMBDA_PINS), "urllib3": "1.26.20"}
    with pytest.raises(PlatformConfigError, match=r"urllib3 1\.26\.20 is bundled, 2"):
        _deploy_with_bundle(tmp, lambda_bundle(tmp / "bundle", pins))


def test_a_bundle_built_for_another_platform_fails_the_deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("mac-bundle")
    bundle = lambda_bundle(tmp / "bundle", tag="cp312-cp312-macosx_11_0_arm64")
    with pytest.raises(PlatformConfigError, match=r"orjson is built for cp312-cp312-macosx"):
        _deploy_with_bundle(tmp, bundle)


def test_the_documented_build_step_writes_the_folder_the_example_stack_bundles() -> None:
    readme = (REPO / "infra" / "pulumi" / "README.md").read_text()
    assert "python infra/pulumi/build_artifacts.py" in readme
    example = (REPO / "infra" / "pulumi" / "Pulumi.dev.yaml").read_text()
    assert "dependenciesDir: ../../build/lambda-deps" in example
