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

Bodies over the limit (6 MB, SageMaker's real-time payload limit) get 413 (a declared length
before the body is read, a chunked body as soon as it passes the limit); a malformed
``Content-Length`` gets 400 (see :mod:`lakelib._httpserver` for the server's limits); a
missing or tampered model keeps the server up and answering 503 with the reason.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Iterable
from dataclasses import replace
from http import HTTPStatus
from pathlib import Path
from typing import Any

import orjson

from lakelib._httpserver import (
    LocalServer,
    Request,
    Response,
    ServerLimits,
    error_response,
    public_message,
)
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
    limits:
        connection, timeout and thread limits (:class:`lakelib._httpserver.ServerLimits`);
        ``max_body`` here wins over ``limits.max_body``.
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
        limits: ServerLimits | None = None,
    ) -> None:
        super().__init__(address, replace(limits or ServerLimits(), max_body=max_body))
        self.model = model
        self.problem = problem or ("" if model else "no model loaded")
        self.endpoint_names = set(endpoint_names)
        self.variant = variant
        self.region = region
        self.requests = 0
        self._count = threading.Lock()

    def count(self) -> None:
        with self._count:
            self.requests += 1

    # -- routes -----------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return self._get(request)
        if request.method != "POST":
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, "GET /ping, POST /invocations")
        self.count()
        parts = request.path.strip("/").split("/")
        if parts == ["invocations"]:
            return self._invoke(request, endpoint=None)
        if len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations":
            name = urllib.parse.unquote(parts[1])
            if name not in self.endpoint_names:
                return aws_error(
                    HTTPStatus.BAD_REQUEST,
                    "ValidationError",
                    f"Endpoint {name} of account {ACCOUNT_ID} not found.",
                )
            return self._invoke(request, endpoint=name)
        return error_response(
            HTTPStatus.NOT_FOUND, "POST /invocations or /endpoints/<name>/invocations"
        )

    def _get(self, request: Request) -> Response:
        if request.path != "/ping":
            return error_response(HTTPStatus.NOT_FOUND, "GET /ping, POST /invocations")
        if self.model is None:
            return error_response(HTTPStatus.SERVICE_UNAVAILABLE, public_message(self.problem))
        return Response(HTTPStatus.OK, b"", "text/plain")

    def refuse(self, status: int, message: str, path: str) -> Response:
        """Refusals before the handler (framing, size): SageMaker's shape on its route."""
        parts = path.strip("/").split("/")
        endpoint = None
        if len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations":
            endpoint = urllib.parse.unquote(parts[1])
        if endpoint is not None and status < HTTPStatus.INTERNAL_SERVER_ERROR:
            # Refused by the front end, not by the model: no ModelError around it.
            return aws_error(status, "ValidationError", message)
        return self._refuse(endpoint, status, message)

    def _refuse(self, endpoint: str | None, status: int, message: str) -> Response:
        if endpoint is None:
            return error_response(status, message)
        if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            return aws_error(status, "ValidationError", message)
        # SageMaker wraps what the container said in a ModelError (424).
        return aws_error(
            HTTPStatus.FAILED_DEPENDENCY,
            "ModelError",
            f'Received client error ({status}) from primary with message "{message}".',
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=f"local:{endpoint}",
        )

    def _invoke(self, request: Request, endpoint: str | None) -> Response:
        if not request.has_length:
            return self._refuse(endpoint, HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        model = self.model
        if model is None:
            return self._refuse(
                endpoint, HTTPStatus.SERVICE_UNAVAILABLE, public_message(self.problem)
            )
        try:
            answer, ctype = transform(
                request.body,
                request.header("Content-Type") or None,
                request.header("Accept") or None,
                model,
            )
        except InferenceError as exc:
            return self._refuse(endpoint, exc.status, public_message(str(exc)))
        except Exception as exc:  # a bug, not the caller's fault: log it, keep serving
            log.exception("inference failed")
            return self._refuse(
                endpoint,
                HTTPStatus.INTERNAL_SERVER_ERROR,
                public_message(f"{type(exc).__name__}: {exc}"),
            )
        headers = []
        if endpoint is not None:
            headers = [
                ("X-Amzn-Invoked-Production-Variant", self.variant),
                ("x-amzn-RequestId", "local"),
            ]
        return Response(HTTPStatus.OK, answer, ctype, headers)


def aws_error(status: int, code: str, message: str, **extra: Any) -> Response:
    """An error botocore parses: ``x-amzn-ErrorType`` header + JSON ``message``."""
    return Response(
        int(status),
        orjson.dumps({"__type": code, "message": message, **extra}),
        "application/x-amz-json-1.1",
        [
            ("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/"),
            ("x-amzn-RequestId", "local"),
        ],
    )


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
    limits: ServerLimits | None = None,
) -> EndpointServer:
    """A ready (not yet serving) endpoint server for the model unpacked in ``model_dir``.

    ``limits`` sets the connection cap, silence timeout and worker threads
    (:class:`lakelib._httpserver.ServerLimits`); ``max_body`` the body limit.

    Examples
    --------
    >>> server = make_endpoint_server("/tmp/model", port=0)          # doctest: +SKIP
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
    """
    model, problem = load_for_serving(model_dir)
    return EndpointServer(
        (host, port), model, endpoint_names, problem=problem, max_body=max_body, limits=limits
    )
