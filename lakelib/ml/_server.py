"""The local endpoint: a real HTTP server that answers like a SageMaker container and endpoint.

Routes
    ``GET /ping``
        200 when a model is loaded, 503 with the reason otherwise (a container's health check).
    ``POST /invocations``
        the container's route: the inference functions' answer, or a 4xx ``{"error": ...}``.
    ``POST /endpoints/<name>/invocations``
        the SageMaker runtime route, so an unmodified boto3 ``sagemaker-runtime`` client with
        ``endpoint_url`` set here can ``invoke_endpoint``. An unknown name gets what
        SageMaker answers (400, ``ValidationError``, "Endpoint X of account ... not found.");
        a request the model refuses gets SageMaker's ``ModelError`` (424) carrying the
        model's own status and message; the answer carries
        ``X-Amzn-Invoked-Production-Variant``.

Bodies over the limit (6 MB, SageMaker's real-time payload limit) get 413 before they are
read; a missing or tampered model keeps the server up and answering 503 with the reason.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import orjson

from lakelib._httpserver import JsonHandler, LocalServer
from lakelib.errors import LakeError
from lakelib.ml._inference import InferenceError, LoadedModel, model_fn, transform

log = logging.getLogger(__name__)

MAX_BODY = 6 * 1024 * 1024
ACCOUNT_ID = "000000000000"  # what the local "account" is called in SageMaker-shaped errors
VARIANT = "AllTraffic"


class EndpointServer(LocalServer):
    """Serves one model under one or more endpoint names.

    Parameters
    ----------
    address:
        ``(host, port)``; port 0 picks a free one.
    model:
        the loaded model, or ``None`` when it could not be loaded (``problem`` says why).
    endpoint_names:
        names accepted on ``/endpoints/<name>/invocations``.
    """

    def __init__(
        self,
        address: tuple[str, int],
        model: LoadedModel | None,
        endpoint_names: Iterable[str],
        *,
        problem: str | None = None,
        max_body: int = MAX_BODY,
        variant: str = VARIANT,
        region: str = "us-east-1",
    ) -> None:
        super().__init__(address, _Handler)
        self.model = model
        self.problem = problem or ("" if model else "no model loaded")
        self.endpoint_names = set(endpoint_names)
        self.max_body = max_body
        self.variant = variant
        self.region = region
        self.requests = 0
        self._count = threading.Lock()

    def count(self) -> None:
        with self._count:
            self.requests += 1


class _Handler(JsonHandler):
    server: EndpointServer
    # Headers and body go out in two writes; without TCP_NODELAY the body waits for the
    # client's delayed ACK (~40 ms a request on keep-alive connections).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path != "/ping":
            return self.error(HTTPStatus.NOT_FOUND, "GET /ping, POST /invocations")
        if self.server.model is None:
            return self.error(HTTPStatus.SERVICE_UNAVAILABLE, self.server.problem)
        self.send_body(HTTPStatus.OK, b"", "text/plain")

    def do_POST(self) -> None:
        self.server.count()
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        if parts == ["invocations"]:
            return self._invoke(endpoint=None)
        if len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations":
            name = urllib.parse.unquote(parts[1])
            if name not in self.server.endpoint_names:
                self._drain()
                return self.aws_error(
                    HTTPStatus.BAD_REQUEST,
                    "ValidationError",
                    f"Endpoint {name} of account {ACCOUNT_ID} not found.",
                )
            return self._invoke(endpoint=name)
        self._drain()
        self.error(HTTPStatus.NOT_FOUND, "POST /invocations or /endpoints/<name>/invocations")

    # -- helpers --------------------------------------------------------------------------
    def _length(self) -> int | None:
        try:
            return int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None

    def _drain(self) -> None:
        length = self._length() or 0
        if 0 < length <= self.server.max_body:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def aws_error(self, status: int, code: str, message: str, **extra: Any) -> None:
        """An error botocore parses: ``x-amzn-ErrorType`` header + JSON ``message``."""
        body = orjson.dumps({"__type": code, "message": message, **extra})
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/")
        self.send_header("x-amzn-RequestId", "local")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, endpoint: str | None, status: int, message: str) -> None:
        if endpoint is None:
            return self.error(HTTPStatus(status), message)
        if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            return self.aws_error(status, "ValidationError", message)
        # SageMaker wraps what the container said in a ModelError (424).
        self.aws_error(
            HTTPStatus.FAILED_DEPENDENCY,
            "ModelError",
            f'Received client error ({status}) from primary with message "{message}".',
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=f"local:{endpoint}",
        )

    def _invoke(self, endpoint: str | None) -> None:
        length = self._length()
        if length is None:
            self.close_connection = True
            return self._refuse(endpoint, HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        if length > self.server.max_body:
            self.close_connection = True
            return self._refuse(
                endpoint,
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length:,} bytes exceeds the limit of {self.server.max_body:,} bytes",
            )
        body = self.rfile.read(length) if length else b""
        model = self.server.model
        if model is None:
            return self._refuse(endpoint, HTTPStatus.SERVICE_UNAVAILABLE, self.server.problem)
        try:
            answer, ctype = transform(
                body, self.headers.get("Content-Type"), self.headers.get("Accept"), model
            )
        except InferenceError as exc:
            return self._refuse(endpoint, exc.status, str(exc))
        except Exception as exc:  # a bug, not the caller's fault: log it, keep serving
            log.exception("inference failed")
            return self._refuse(
                endpoint, HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}"
            )
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(answer)))
        if endpoint is not None:
            self.send_header("X-Amzn-Invoked-Production-Variant", self.server.variant)
            self.send_header("x-amzn-RequestId", "local")
        self.end_headers()
        self.wfile.write(answer)


def load_for_serving(model_dir: Path | str | None) -> tuple[LoadedModel | None, str | None]:
    """``model_fn`` on a folder; a failure becomes the reason the server gives, not a crash."""
    if model_dir is None:
        return None, "no model folder given"
    try:
        return model_fn(str(model_dir)), None
    except LakeError as exc:
        log.error("model not loaded: %s", exc)
        return None, f"model not loaded: {exc}"


def make_endpoint_server(
    model_dir: Path | str | None,
    *,
    endpoint_names: Iterable[str] = ("churn-model",),
    host: str = "127.0.0.1",
    port: int = 8080,
    max_body: int = MAX_BODY,
) -> EndpointServer:
    """A ready (not yet serving) endpoint server for the model unpacked in ``model_dir``.

    Examples
    --------
    >>> server = make_endpoint_server("/tmp/model", port=0)          # doctest: +SKIP
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
    """
    model, problem = load_for_serving(model_dir)
    return EndpointServer((host, port), model, endpoint_names, problem=problem, max_body=max_body)
