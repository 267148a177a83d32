"""pytest plugin: every boto3 request a test makes must be one AWS would accept.

botocore validates types and required members; moto accepts whatever botocore sends. Real
AWS also enforces the service model's ``max``/``min`` (list and string lengths, numbers),
``enum`` and ``pattern`` (Glue ``BatchDeletePartition`` takes at most 25 partitions). This
plugin checks each request against those constraints (:mod:`plugins._shapes`) and fails the
test phase (setup, call or teardown) that sent a violating request, naming the operation, the
parameter path and the constraint, e.g.::

    glue.BatchDeletePartition: PartitionsToDelete: 100 items, max 25

Coverage: every request made in the pytest process, whatever the fixture (``aws``,
``moto_server`` or a test's own client); and requests made by Python subprocesses the tests
start, through ``_site/sitecustomize.py`` on ``PYTHONPATH`` (a subprocess started with an
environment that drops ``PYTHONPATH`` or ``STRICT_SHAPES_LOG`` is not covered).

Model patterns are Java regular expressions; one that Python cannot compile (neither ``re``
nor ``regex``) is skipped and listed in the terminal summary.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from plugins import _shapes

_SITE = Path(__file__).resolve().parent / "_site"


class _State:
    log_dir: ClassVar[str | None] = None
    log_offset: ClassVar[int] = 0
    saved_env: ClassVar[dict[str, str | None]] = {}
    total: ClassVar[int] = 0


def _set_env(name: str, value: str) -> None:
    _State.saved_env.setdefault(name, os.environ.get(name))
    os.environ[name] = value


def pytest_configure(config: pytest.Config) -> None:
    import botocore.client

    _shapes.install(botocore.client)
    _State.log_dir = tempfile.mkdtemp(prefix="strict-shapes-")
    _set_env(_shapes.LOG_ENV, str(Path(_State.log_dir) / "violations.jsonl"))
    _set_env(f"{_shapes.LOG_ENV}_PID", str(os.getpid()))
    path = os.environ.get("PYTHONPATH")
    _set_env("PYTHONPATH", os.pathsep.join(p for p in (str(_SITE), path) if p))


def pytest_unconfigure(config: pytest.Config) -> None:
    for name, value in _State.saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _State.saved_env = {}
    if _State.log_dir:
        shutil.rmtree(_State.log_dir, ignore_errors=True)
        _State.log_dir = None


def _from_subprocesses() -> Iterator[str]:
    log_file = os.environ.get(_shapes.LOG_ENV)
    if not log_file or not os.path.exists(log_file):
        return
    with open(log_file, encoding="utf-8") as handle:
        handle.seek(_State.log_offset)
        lines = handle.readlines()
        _State.log_offset = handle.tell()
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line still being written: read it next time
            continue
        yield f"{entry['violation']} (in subprocess {entry['pid']})"


def collect() -> list[str]:
    """Violations since the last call: this process's and its subprocesses'."""
    return [*_shapes.drain(), *_from_subprocesses()]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    found = collect()
    if found:
        _State.total += len(found)
        text = "\n".join(f"  {line}" for line in dict.fromkeys(found))
        message = (
            f"strict request shapes: {len(found)} request parameter(s) AWS would refuse "
            f"during {report.when}:\n{text}"
        )
        if report.failed:
            report.sections.append(("strict request shapes", message))
        else:
            report.outcome = "failed"
            report.longrepr = message
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = _shapes.skipped_patterns
    if not (_State.total or skipped):
        return
    terminalreporter.write_sep("-", "strict request shapes")
    if _State.total:
        terminalreporter.write_line(f"{_State.total} violation(s): see the failed tests above")
    for pattern, why in sorted(skipped.items()):
        terminalreporter.write_line(f"pattern not checked: {pattern!r}: {why}")
