"""Check boto3 requests against the service model's constraints that botocore does not.

botocore's own validation (``ParamValidator``) checks types, required members and unknown
names. It leaves out ``max`` (and ``min`` on lengths of lists, maps and strings, and on
numbers), ``enum`` and ``pattern``; moto accepts whatever botocore sends. Real AWS refuses
such a request with a ``ValidationException``: Glue ``BatchDeletePartition`` takes at most 25
partitions, and moto takes 100. This module walks a request against its operation's input
shape and lists every such violation.

It is shared by the pytest plugin (``strict_shapes``, in-process calls) and the
``sitecustomize`` under ``_site/`` (calls made by Python subprocesses the tests start): both
wrap ``botocore.client.BaseClient._make_api_call`` with :func:`install` and collect what
:func:`check_request` finds. This file imports only the standard library and botocore, on
purpose: a subprocess loads it at start.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# The file subprocesses append their violations to (one JSON line each); set by the plugin.
LOG_ENV = "STRICT_SHAPES_LOG"

_lock = threading.Lock()
violations: list[str] = []  # found in this process since the plugin last drained them
skipped_patterns: dict[str, str] = {}  # model pattern -> why it could not be compiled

# Java regex spellings Python's ``re`` does not know, and what they mean there.
_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _code_point(match: re.Match[str]) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java) ``pattern`` as a Python regex, or ``None`` when it has no equivalent.

    Java writes characters beyond the BMP as UTF-16 surrogate pairs (``\\uD800\\uDC00``);
    Python needs the code point (``\\U00010000``), else a class such as
    ``[\\uD800\\uDC00-\\uDBFF\\uDFFF]`` is a reversed range. Unicode property classes
    (``\\p{L}``) need the third-party ``regex`` module; a pattern that compiles with neither is
    skipped and noted in :data:`skipped_patterns`.
    """
    text = _SURROGATE_PAIR.sub(_code_point, pattern)
    # Java's \z is Python's \Z (end of input); Python's \Z does not exist in Java.
    text = text.replace(r"\z", r"\Z")
    try:
        return re.compile(text)
    except re.error as exc:
        python_error = str(exc)
    try:
        import regex

        compiled: re.Pattern[str] = regex.compile(text)
        return compiled
    except ImportError:
        skipped_patterns[pattern] = f"not Python regex ({python_error}); `regex` not installed"
    except Exception as exc:  # regex.error
        skipped_patterns[pattern] = f"compiles with neither re ({python_error}) nor regex ({exc})"
    return None


def _limits(shape: Any) -> tuple[Any, Any]:
    meta = shape.metadata
    return meta.get("min"), meta.get("max")


def _walk(shape: Any, value: Any, path: str) -> Iterator[str]:
    kind = shape.type_name
    low, high = _limits(shape)
    if kind == "structure":
        if not isinstance(value, Mapping):
            return
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                yield from _walk(member, value[name], f"{path}.{name}" if path else name)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            return
        if high is not None and len(value) > high:
            yield f"{path}: {len(value)} items, max {high}"
        if low is not None and len(value) < low:
            yield f"{path}: {len(value)} items, min {low}"
        for index, item in enumerate(value):
            yield from _walk(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, Mapping):
            return
        if high is not None and len(value) > high:
            yield f"{path}: {len(value)} entries, max {high}"
        if low is not None and len(value) < low:
            yield f"{path}: {len(value)} entries, min {low}"
        for key, item in value.items():
            yield from _walk(shape.key, key, f"{path}{{key {key!r}}}")
            yield from _walk(shape.value, item, f"{path}[{key!r}]")
    elif kind == "string":
        if not isinstance(value, str):
            return
        if high is not None and len(value) > high:
            yield f"{path}: length {len(value)}, max {high}"
        if low is not None and len(value) < low:
            yield f"{path}: length {len(value)}, min {low}"
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            shown = ", ".join(enum[:8]) + (", ..." if len(enum) > 8 else "")
            yield f"{path}: {value!r} not in enum ({shown})"
        pattern = shape.metadata.get("pattern")
        if pattern:
            compiled = compile_pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                yield f"{path}: {_short(value)} does not match pattern {pattern!r}"
    elif kind in {"integer", "long", "float", "double"}:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if high is not None and value > high:
            yield f"{path}: {value} > max {high}"
        if low is not None and value < low:
            yield f"{path}: {value} < min {low}"
    elif kind == "blob" and isinstance(value, bytes | bytearray | str):
        if high is not None and len(value) > high:
            yield f"{path}: {len(value)} bytes, max {high}"
        if low is not None and len(value) < low:
            yield f"{path}: {len(value)} bytes, min {low}"


def _short(value: str, limit: int = 80) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def check_request(service_model: Any, operation: str, params: Mapping[str, Any]) -> list[str]:
    """Violations of ``operation``'s input constraints, as ``"<service>.<Op>: <path>: <why>"``."""
    shape = service_model.operation_model(operation).input_shape
    if shape is None:
        return []
    where = f"{service_model.service_name}.{operation}"
    return [f"{where}: {problem}" for problem in _walk(shape, params, "")]


def record(found: list[str]) -> None:
    """Keep violations for the plugin; a subprocess appends them to the ``LOG_ENV`` file."""
    with _lock:
        violations.extend(found)
    log_file = os.environ.get(LOG_ENV)
    if log_file and os.getpid() != _owner_pid():
        with open(log_file, "a", encoding="utf-8") as handle:
            for line in found:
                handle.write(json.dumps({"pid": os.getpid(), "violation": line}) + "\n")


def _owner_pid() -> int:
    # The pytest process writes its pid beside the log name; anything else is a subprocess.
    try:
        return int(os.environ.get(f"{LOG_ENV}_PID", "-1"))
    except ValueError:
        return -1


def drain() -> list[str]:
    """Violations found in this process since the last call (and forget them)."""
    with _lock:
        found = list(violations)
        violations.clear()
    return found


def install(client_module: Any) -> None:
    """Wrap ``BaseClient._make_api_call`` of ``botocore.client`` (idempotent).

    The request still goes out: the plugin fails the test afterwards with every violation
    listed, instead of raising inside code that might catch and hide the error.
    """
    base = client_module.BaseClient
    original: Callable[..., Any] = base._make_api_call
    if getattr(original, "_strict_shapes", False):
        return

    @functools.wraps(original)
    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        try:
            found = check_request(self.meta.service_model, operation_name, api_params)
        except Exception as exc:  # a checker bug must not look like the code's failure
            found = [f"{operation_name}: strict shape check crashed: {exc!r}"]
        if found:
            record(found)
        return original(self, operation_name, api_params)

    _make_api_call._strict_shapes = True  # type: ignore[attr-defined]
    base._make_api_call = _make_api_call
