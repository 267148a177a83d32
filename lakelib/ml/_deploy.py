"""Endpoints: run the local one (foreground or background), record it, call it, stop it.

A deployed local endpoint is a background ``python -m lakelib serve`` process. Its record,
``models/endpoints/<name>.json`` in the lake, says which model version it serves, its pid and
URL; its log is ``runs/endpoints/<name>/serve.log`` and the model it serves is unpacked in
``runs/endpoints/<name>/model`` (the container's ``/opt/ml/model``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import MlError, NotFoundError, ValidationError
from lakelib.ml._registry import ModelRegistry, model_settings
from lakelib.ml._server import MAX_BODY, EndpointServer, make_endpoint_server
from lakelib.storage import zone_store

log = logging.getLogger(__name__)

ENDPOINTS_PREFIX = "endpoints"
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
START_TIMEOUT = 60.0


def validate_endpoint_name(name: str) -> str:
    """SageMaker's rule: letters, digits and hyphens, at most 63, no leading hyphen."""
    if not isinstance(name, str) or not _ENDPOINT_NAME.fullmatch(name):
        raise ValidationError(
            f"invalid endpoint name {name!r}: use letters, digits and hyphens (at most 63)"
        )
    return name


def default_endpoint_name(settings: Settings | None = None) -> str:
    return str(model_settings(settings)["endpoint_name"])


@dataclass(frozen=True)
class EndpointRecord:
    """A deployed endpoint as recorded in the lake."""

    name: str
    target: str
    model: str
    version: str
    url: str
    pid: int | None
    started_at: str
    log: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _runs(settings: Settings, name: str) -> Path:
    return Path(settings.home) / Zone.RUNS.value / "endpoints" / name


def read_endpoint(name: str, settings: Settings | None = None) -> EndpointRecord | None:
    store = zone_store(Zone.MODELS, settings)
    try:
        data = json.loads(
            store.read_bytes(f"{ENDPOINTS_PREFIX}/{validate_endpoint_name(name)}.json")
        )
    except NotFoundError:
        return None
    return EndpointRecord(**data)


def list_endpoints(settings: Settings | None = None) -> list[tuple[EndpointRecord, bool]]:
    """Recorded endpoints and whether each one's process is alive."""
    store = zone_store(Zone.MODELS, settings)
    found = []
    for info in store.list(f"{ENDPOINTS_PREFIX}/"):
        if info.key.endswith(".json"):
            record = EndpointRecord(**json.loads(store.read_bytes(info.key)))
            found.append((record, _serving(record.pid)))
    return found


def _write_record(record: EndpointRecord, settings: Settings) -> None:
    store = settings.store(Zone.MODELS)
    body = json.dumps(record.as_dict(), indent=2).encode()
    store.write_bytes(f"{ENDPOINTS_PREFIX}/{record.name}.json", body)


def _serving(pid: int | None) -> bool:
    """Whether ``pid`` is a live ``lakelib serve`` process (not a recycled pid)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            args = cmdline.read_bytes().split(b"\x00")
        except OSError:
            return False
        return b"lakelib" in args and b"serve" in args
    return True


def _ping(url: str, timeout: float = 2.0) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/ping", timeout=timeout) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


def serve_endpoint(
    name: str | None = None,
    *,
    model: str | None = None,
    version: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    max_body: int = MAX_BODY,
    settings: Settings | None = None,
) -> EndpointServer:
    """Unpack a model version from the registry and make a server for it (not yet serving).

    A model that is missing or fails its checksum does not stop the server: it starts and
    answers 503 with the reason (``server.problem``), as a container whose model failed to
    load would.
    """
    settings = settings or get_settings()
    name = validate_endpoint_name(name or default_endpoint_name(settings))
    registry = ModelRegistry(model, settings=settings)
    folder = _runs(settings, name) / "model"
    problem = None
    try:
        for old in folder.glob("*"):
            if old.is_file():
                old.unlink()
        registry.unpack(folder, version)
    except MlError as exc:
        problem = str(exc)
    server = make_endpoint_server(
        None if problem else folder,
        endpoint_names=[name],
        host=host,
        port=port,
        max_body=max_body,
    )
    if problem:
        server.problem = f"model not loaded: {problem}"
        log.error("%s", server.problem)
    return server


def deploy_local(
    name: str | None = None,
    *,
    model: str | None = None,
    version: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    settings: Settings | None = None,
    timeout: float = START_TIMEOUT,
) -> EndpointRecord:
    """Start the local endpoint in the background, wait for ``/ping``, record it.

    A running endpoint of the same name is replaced. The model is loaded (and its checksum
    checked) here first, so a broken model fails the deploy instead of starting a server
    that can only say 503.

    Examples
    --------
    >>> record = deploy_local()                                    # doctest: +SKIP
    >>> record.url, record.version                                 # doctest: +SKIP
    ('http://127.0.0.1:38211', 'v1')
    """
    settings = settings or get_settings()
    if not settings.is_local:
        raise MlError("deploy --target local runs on the local profile")
    name = validate_endpoint_name(name or default_endpoint_name(settings))
    registry = ModelRegistry(model, settings=settings)
    entry = registry.get(version)
    registry.load(entry.version)  # fails here, with the reason, on a missing or bad model
    stop_local(name, settings=settings)

    folder = _runs(settings, name)
    folder.mkdir(parents=True, exist_ok=True)
    ready = folder / "ready.json"
    ready.unlink(missing_ok=True)
    log_path = folder / "serve.log"
    args = [
        sys.executable, "-m", "lakelib", "--profile", "local", "--home", str(settings.home),
        "serve", "--endpoint", name, "--model", registry.name, "--version", entry.version,
        "--host", host, "--port", str(port), "--ready-file", str(ready),
    ]  # fmt: skip
    with log_path.open("ab") as handle:
        process = subprocess.Popen(
            args,
            cwd=settings.project_root,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the CLI; stopped by pid (lake undeploy)
        )
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise MlError(f"endpoint {name} exited at start: {tail[0]} (log: {log_path})")
        if ready.is_file():
            try:
                url = json.loads(ready.read_text())["url"]
            except (ValueError, KeyError):
                url = None
            if url and _ping(url)[0] == 200:
                break
        time.sleep(0.05)
    else:
        _terminate(process.pid)
        raise MlError(f"endpoint {name} did not answer /ping within {timeout:.0f} s ({log_path})")
    record = EndpointRecord(
        name=name,
        target="local",
        model=registry.name,
        version=entry.version,
        url=str(url),
        pid=process.pid,
        started_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        log=str(log_path),
    )
    _write_record(record, settings)
    log.info("endpoint %s serves %s %s at %s", name, registry.name, entry.version, url)
    return record


def _terminate(pid: int, wait: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            # Reap it if it is our child; otherwise just probe.
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def stop_local(name: str | None = None, *, settings: Settings | None = None) -> bool:
    """Stop a recorded local endpoint and forget it; ``False`` when none was recorded."""
    settings = settings or get_settings()
    name = validate_endpoint_name(name or default_endpoint_name(settings))
    record = read_endpoint(name, settings)
    if record is None:
        return False
    if record.target == "local" and record.pid and _serving(record.pid):
        _terminate(record.pid)
    settings.store(Zone.MODELS).delete(f"{ENDPOINTS_PREFIX}/{name}.json")
    return True


class Runtime(Protocol):
    """Calls an endpoint: ``(body, content type, invoked variant)``."""

    def invoke(
        self, name: str, body: bytes, content_type: str, accept: str | None
    ) -> tuple[bytes, str, str | None]: ...


class LocalRuntime:
    """POSTs to a recorded local endpoint's ``/endpoints/<name>/invocations``."""

    def __init__(self, settings: Settings | None = None, timeout: float = 60.0) -> None:
        self.settings = settings or get_settings()
        self.timeout = timeout

    def invoke(
        self, name: str, body: bytes, content_type: str, accept: str | None
    ) -> tuple[bytes, str, str | None]:
        record = read_endpoint(name, self.settings)
        if record is None:
            raise MlError(f"no endpoint {name!r} is deployed: run lake deploy --target local")
        if not _serving(record.pid):
            raise MlError(f"endpoint {name} (pid {record.pid}) is not running: deploy it again")
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        request = urllib.request.Request(
            f"{record.url}/endpoints/{name}/invocations", data=body, headers=headers, method="POST"
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=self.timeout) as answer:
                return (
                    answer.read(),
                    answer.headers.get("Content-Type", ""),
                    answer.headers.get("X-Amzn-Invoked-Production-Variant"),
                )
        except urllib.error.HTTPError as exc:
            raise MlError(f"endpoint {name}: {_error_message(exc)}") from None
        except OSError as exc:
            raise MlError(f"endpoint {name} at {record.url}: {exc}") from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    text = exc.read().decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return f"HTTP {exc.code}: {text[:200]}"
    message = data.get("OriginalMessage") or data.get("message") or data.get("error") or text
    status = data.get("OriginalStatusCode") or exc.code
    return f"HTTP {status}: {message}"


class SageMakerRuntime:
    """``sagemaker-runtime invoke_endpoint`` through :func:`lakelib.aws.client`."""

    def invoke(
        self, name: str, body: bytes, content_type: str, accept: str | None
    ) -> tuple[bytes, str, str | None]:
        from botocore.exceptions import ClientError

        from lakelib.aws import client

        kwargs: dict[str, Any] = {"EndpointName": name, "Body": body, "ContentType": content_type}
        if accept:
            kwargs["Accept"] = accept
        try:
            answer = client("sagemaker-runtime").invoke_endpoint(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise MlError(f"endpoint {name}: {error.get('Code')}: {error.get('Message')}") from None
        return (
            answer["Body"].read(),
            answer.get("ContentType", ""),
            answer.get("InvokedProductionVariant"),
        )


def runtime_for(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    return LocalRuntime(settings) if settings.is_local else SageMakerRuntime()


def predict(
    name: str | None,
    body: bytes,
    *,
    content_type: str = "text/csv",
    accept: str | None = None,
    settings: Settings | None = None,
) -> tuple[bytes, str]:
    """Call an endpoint (local record or SageMaker, by profile); ``(body, content_type)``."""
    settings = settings or get_settings()
    name = validate_endpoint_name(name or default_endpoint_name(settings))
    answer, ctype, _variant = runtime_for(settings).invoke(name, body, content_type, accept)
    return answer, ctype
