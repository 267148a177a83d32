"""Strict request shapes in Python subprocesses started by the tests.

The ``strict_shapes`` plugin puts this folder first on ``PYTHONPATH`` and names a log file in
``STRICT_SHAPES_LOG``; Python imports ``sitecustomize`` at start-up. When (and only when) the
process imports ``botocore.client``, its ``_make_api_call`` is wrapped like the test process's
own, and violations are appended to the log, which the plugin reads after each test phase.
Processes that never use botocore pay for one meta-path lookup.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

_SHAPES = Path(__file__).resolve().parent.parent / "_shapes.py"


def _load_shapes() -> Any:
    spec = importlib.util.spec_from_file_location("_lakelib_strict_shapes", _SHAPES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class _BotocoreClientHook:
    """Meta-path finder that patches ``botocore.client`` right after it is executed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "botocore.client":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _load_shapes().install(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("STRICT_SHAPES_LOG") and "botocore.client" not in sys.modules:
    sys.meta_path.insert(0, _BotocoreClientHook())
