"""The local endpoint over real HTTP: boto3 sagemaker-runtime, container routes, bad input."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from test_ml_support import csv_row, generated_sales_clean, write_trained_model

from lakelib.ml import EndpointServer, make_endpoint_server


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("endpoint")
    frame = generated_sales_clean(root / "samples", days=55, rows_per_day=60)
    write_trained_model(frame, root / "model")
    return root / "model"


def running(server: EndpointServer) -> Iterator[EndpointServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server(model_dir: Path) -> Iterator[EndpointServer]:
    yield from running(make_endpoint_server(model_dir, endpoint_names=["churn-model"], port=0))


@pytest.fixture
def features(model_dir: Path) -> list[str]:
    return json.loads((model_dir / "metadata.json").read_text())["features"]


def runtime(url: str) -> object:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client(
        "sagemaker-runtime",
        endpoint_url=url,
        config=Config(retries={"max_attempts": 1}, proxies={}),
    )


def post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, dict(answer.headers), answer.read()
    finally:
        conn.close()


def test_boto3_invoke_endpoint_gets_predictions(
    server: EndpointServer, features: list[str]
) -> None:
    client = runtime(server.url)
    body = f"{csv_row(features)}\n{csv_row(features, 'corporate')}\n"
    answer = client.invoke_endpoint(EndpointName="churn-model", ContentType="text/csv", Body=body)
    assert answer["ContentType"] == "text/csv"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    scores = [float(x) for x in answer["Body"].read().decode().split()]
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)

    answer = client.invoke_endpoint(
        EndpointName="churn-model",
        ContentType="text/csv",
        Accept="application/json",
        Body=csv_row(features),
    )
    assert answer["ContentType"] == "application/json"
    document = json.loads(answer["Body"].read())
    assert document["predictions"][0]["score"] == pytest.approx(scores[0], abs=1e-6)


def test_unknown_endpoint_is_sagemakers_validation_error(server: EndpointServer) -> None:
    client = runtime(server.url)
    with pytest.raises(ClientError) as info:
        client.invoke_endpoint(EndpointName="nope", ContentType="text/csv", Body=b"1")
    error = info.value.response["Error"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "ValidationError"
    assert error["Message"] == "Endpoint nope of account 000000000000 not found."


def test_model_refusal_is_a_model_error_through_boto3(server: EndpointServer) -> None:
    client = runtime(server.url)
    with pytest.raises(ClientError) as info:
        client.invoke_endpoint(EndpointName="churn-model", ContentType="text/csv", Body=b"1,2\n")
    response = info.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 400
    assert "row 1 has 2 values" in response["OriginalMessage"]


def test_container_routes_and_bad_input(server: EndpointServer, features: list[str]) -> None:
    row = csv_row(features).encode()
    status, headers, body = post(server.url, "/invocations", row, {"Content-Type": "text/csv"})
    assert status == 200 and headers["Content-Type"] == "text/csv" and float(body) > 0

    cases = [
        (row, {"Content-Type": "application/x-npy"}, 415, "not supported"),
        (b"1,2,3", {"Content-Type": "text/csv"}, 400, "row 1 has 3 values"),
        (row.replace(b"2.5", b"abc", 1), {"Content-Type": "text/csv"}, 400, "not a number"),
        (b"", {"Content-Type": "text/csv"}, 400, "empty body"),
        (row, {"Content-Type": "text/csv", "Accept": "image/png"}, 406, "cannot answer"),
    ]
    for payload, head, want, message in cases:
        status, _, answer = post(server.url, "/invocations", payload, head)
        assert status == want, answer
        assert message in json.loads(answer)["error"]
    # Still up and answering after every refusal.
    status, _, _ = post(server.url, "/invocations", row, {"Content-Type": "text/csv"})
    assert status == 200


def test_oversized_body_is_413_before_reading(model_dir: Path, features: list[str]) -> None:
    small = make_endpoint_server(model_dir, endpoint_names=["churn-model"], port=0, max_body=1024)
    for srv in running(small):
        status, _, body = post(srv.url, "/invocations", b"x" * 2048, {"Content-Type": "text/csv"})
        assert status == 413 and "exceeds the limit" in json.loads(body)["error"]
        row = csv_row(features).encode()
        status, _, _ = post(srv.url, "/invocations", row, {"Content-Type": "text/csv"})
        assert status == 200


def test_default_limit_is_six_megabytes(server: EndpointServer) -> None:
    assert server.max_body == 6 * 1024 * 1024
    assert server.server_address[0] == "127.0.0.1"


def test_tampered_model_keeps_the_server_up_with_503(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    for path in model_dir.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "model.joblib").write_bytes(b"tampered")
    for srv in running(make_endpoint_server(broken, port=0)):
        host, port = srv.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/ping")
        ping = conn.getresponse()
        assert ping.status == 503 and "checksum mismatch" in json.loads(ping.read())["error"]
        conn.close()
        status, _, body = post(srv.url, "/invocations", b"1", {"Content-Type": "text/csv"})
        assert status == 503 and "checksum mismatch" in json.loads(body)["error"]
    for srv in running(make_endpoint_server(tmp_path / "missing", port=0)):
        status, _, body = post(srv.url, "/invocations", b"1", {"Content-Type": "text/csv"})
        assert status == 503 and "not a model folder" in json.loads(body)["error"]
