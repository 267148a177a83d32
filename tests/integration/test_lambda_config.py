"""The ingestion Lambda reads the workspace config Pulumi ships (``LAKE_CONFIG=s3://...``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakelib.aws import client
from lakelib.errors import ConfigError
from lakelib.ingest import handler
from lakelib.monitor import DIMENSIONS
from lakelib.samples import make_sample_api, read_manifest

pytestmark = pytest.mark.aws

REPO = Path(__file__).resolve().parents[2]
CONFIG_URI = "s3://lake-scripts/config/lake.toml"
EVENT = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-01-05T02:00:00Z"}


@pytest.fixture
def function_env(
    aws: str, samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The function as deployed: its own folder (no lake.toml), Pulumi's environment."""
    api = make_sample_api(samples, page_size=400)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    s3 = client("s3")
    for bucket in ("lake-raw", "lake-scripts"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S3_RAW_BUCKET", "lake-raw")
    monkeypatch.setenv("SOURCE_API_ENDPOINT", f"{api.url}/sales")
    monkeypatch.setenv("SOURCE_NAME", "sales")
    monkeypatch.setenv("LAKE_PROFILE", "aws")
    yield s3
    api.shutdown()
    api.server_close()


def test_without_the_shipped_config_nothing_lands(function_env: Any) -> None:
    with pytest.raises(ConfigError, match="LAKE_CONFIG is not set") as error:
        handler(EVENT, None)
    assert "\n" not in str(error.value)
    assert function_env.list_objects_v2(Bucket="lake-raw").get("KeyCount") == 0


def test_the_shipped_config_validates_what_lands_and_metrics_are_bare_emf(
    function_env: Any, samples: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # What Pulumi uploads: the workspace's own lake.toml.
    function_env.put_object(
        Bucket="lake-scripts", Key="config/lake.toml", Body=(REPO / "lake.toml").read_bytes()
    )
    monkeypatch.setenv("LAKE_CONFIG", CONFIG_URI)
    result = handler(EVENT, None)
    manifest = read_manifest(samples)["sales"]
    assert result["read"] == manifest["lines"]
    # The [sources.sales] contract applied: exactly the dirt it rejects is quarantined.
    assert result["quarantined"] == manifest["rejected"] > 0
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [list(DIMENSIONS)]
    assert (document["Pipeline"], document["Stage"]) == ("daily", "ingest")
    assert document["Landed"] == result["landed"] and document["Read"] == result["read"]
