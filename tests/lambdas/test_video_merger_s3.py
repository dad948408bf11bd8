"""The merger against moto's S3 server on loopback: inputs, output and callback in a bucket."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdas.video_merger.handler import lambda_handler
from tests.conftest import use_fake_aws
from tests.lambdas.conftest import Clips

pytestmark = pytest.mark.usefixtures("work_root")


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    use_fake_aws(monkeypatch, tmp_path, "fake-secret")
    name = f"pipes-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name


def _event(bucket: str, inputs: list[str], endpoint: str | None) -> dict[str, Any]:
    return {
        "node_uuid": "n1", "executor_type": "merge-videos", "process_uuid": "pr1",
        "output_uri": f"s3://{bucket}/pipelines/p/nodes/n1/output.mp4",
        "callback_uri": f"s3://{bucket}/callbacks/n1/pr1.json",
        "s3_endpoint_url": endpoint,
        "input_videos": [f"s3://{bucket}/{key}" for key in inputs],
    }


def _callback(s3: Any, bucket: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        s3.get_object(Bucket=bucket, Key="callbacks/n1/pr1.json")["Body"].read())
    return body


def test_merges_objects_from_a_bucket(clips: Clips, endpoint: str, bucket: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    # moto's HTTP server rejects a newline in a key; file:// tests cover that case.
    keys = ["in/one.mp4", "in/it's a \\ clip.mp4", "in/three"]
    for key, clip in zip(keys, (clips.a, clips.b, clips.wide), strict=True):
        s3.upload_file(str(clip), bucket, key)
    body = lambda_handler(_event(bucket, keys, endpoint), None)
    assert _callback(s3, bucket) == body
    result = body["result"]
    assert (result["bucket"], result["s3Key"]) == (bucket, "pipelines/p/nodes/n1/output.mp4")
    assert (result["mode"], result["reencoded_inputs"]) == ("reencode", [2])
    assert result["duration"] == pytest.approx(3.0, abs=0.2)
    head = s3.head_object(Bucket=bucket, Key="pipelines/p/nodes/n1/output.mp4")
    assert head["ContentLength"] == result["size"] > 0
    assert head["ContentType"] == "video/mp4"


def test_missing_object_calls_back_input_not_found(
    clips: Clips, endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Endpoint from the environment this time, as on a developer machine with MinIO.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.upload_file(str(clips.a), bucket, "in/a.mp4")
    body = lambda_handler(_event(bucket, ["in/a.mp4", "in/missing.mp4"], None), None)
    assert body["error_type"] == "InputNotFound"
    assert "in/missing.mp4" in body["error"]
    assert _callback(s3, bucket) == body
