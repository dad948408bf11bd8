"""Issue 7.8 (AWS): an on-failure record in the bucket fails its node at the next sensor tick."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import build_sensor_context, instance_for_test

from tests.db.helpers import make_node, make_pipeline, node_row
from video_dagster.assets.lambda_failures import (
    FAILURE_PREFIX,
    QUARANTINE_PREFIX,
    UnreadableRecord,
    parse_record,
)
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.object_store import LocalObjectStore, ObjectStoreResource
from video_dagster.sensors.callbacks import build_callbacks_sensor

BUCKET = "test-bucket"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:vd-prod-video-merger:$LATEST"


def record(node: str, process: str, *, condition: str = "RetriesExhausted",
           response: dict[str, Any] | None = None) -> dict[str, Any]:
    """The invocation record shape of the Lambda developer guide (async destinations)."""
    body: dict[str, Any] = {
        "version": "1.0",
        "timestamp": "2026-12-01T14:16:05.568Z",
        "requestContext": {"requestId": "e4b46cbf-b738-4a1a-8880-a18cdf61200e",
                           "functionArn": ARN, "condition": condition,
                           "approximateInvokeCount": 1},
        "requestPayload": {"node_uuid": node, "process_uuid": process,
                           "executor_type": "merge-videos", "input_videos": ["s3://b/k.mp4"]},
    }
    if response is not None:
        body["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST",
                                   "functionError": "Unhandled"}
        body["responsePayload"] = response
    return body


def key(name: str) -> str:
    return f"{FAILURE_PREFIX}vd-prod-video-merger/2026/12/01/2026-12-01T14.16.05-{name}"


N, P = "8d1c7a52-0d5e-4b8e-9a39-1b1a1c1d1e1f", "0e6f7a52-0d5e-4b8e-9a39-1b1a1c1d1e1f"


def test_parse_the_documented_shapes() -> None:
    timed_out = parse_record(json.dumps(record(N, P, response={
        "errorMessage": "2026-12-01T14:16:05.568Z e4b46cbf Task timed out after 900.00 seconds",
        "errorType": "Sandbox.Timedout"})).encode())
    assert (timed_out.node_uuid, timed_out.process_uuid) == (N, P)
    assert timed_out.error_type == "Timeout"
    assert timed_out.error.startswith(
        "Lambda vd-prod-video-merger failed in AWS (RetriesExhausted)")
    crashed = parse_record(json.dumps(record(N, P, response={
        "errorMessage": "RequestId: e4b46cbf Process exited before completing request"})).encode())
    assert crashed.error_type == "LambdaCrashed" and "Process exited" in crashed.error
    oom = parse_record(json.dumps(record(N, P, response={
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": "RequestId: e4b46cbf Error: Runtime exited with error: signal: killed"})
    ).encode())
    assert oom.error_type == "OutOfMemory"
    aged = parse_record(json.dumps(record(N, P, condition="EventAgeExceeded")).encode())
    assert aged.error_type == "EventAgeExceeded" and "never ran" in aged.error


@pytest.mark.parametrize("raw", [
    b"not json", b"[]", b'{"requestContext": {}}',
    json.dumps(record("not-a-uuid", P, response={})).encode(),
    json.dumps({**record(N, P), "requestContext": {"condition": "Success"}}).encode(),
    b"[" * 5000,
])
def test_unreadable_records_are_refused(raw: bytes) -> None:
    with pytest.raises(UnreadableRecord):
        parse_record(raw)


def test_the_callback_sensor_fails_the_node_and_quarantines_garbage(db_url: str, engine,
                                                                    tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, BUCKET)
    lifecycle = Lifecycle(engine)
    node = make_node(engine, make_pipeline(engine))
    process = lifecycle.started(node).process_uuid
    assert process is not None
    store.put_bytes(key("a"), b"{garbage")
    store.put_bytes(key("b"), json.dumps(record(node, process, response={
        "errorMessage": "Task timed out after 900.00 seconds"})).encode())
    resources = {"database": DatabaseResource(url=db_url),
                 "object_store": ObjectStoreResource(backend="local", local_root=str(tmp_path),
                                                     bucket=BUCKET)}
    sensor = build_callbacks_sensor(frozenset())
    with instance_for_test() as instance:
        sensor(build_sensor_context(instance=instance, resources=resources))
    row = node_row(engine, node)
    assert row.status == "failed" and row.metadata["error_type"] == "Timeout"
    assert "Task timed out after 900.00 seconds" in row.metadata["error"]
    assert list(store.list(FAILURE_PREFIX)) == []
    assert [i.key for i in store.list(QUARANTINE_PREFIX)] == [
        key("a").replace(FAILURE_PREFIX, QUARANTINE_PREFIX)]


def test_records_in_an_s3_bucket_are_read_where_aws_writes_them(engine, moto_endpoint,
                                                                monkeypatch, tmp_path: Path):
    import boto3

    from tests.conftest import use_fake_aws
    from video_dagster.assets.lambda_failures import consume_pending
    from video_dagster.resources.object_store import S3ObjectStore

    use_fake_aws(monkeypatch, tmp_path, "testing")
    bucket = f"failures-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    store = S3ObjectStore(bucket, endpoint_url=moto_endpoint, region_name="us-east-1")
    lifecycle = Lifecycle(engine)
    node = make_node(engine, make_pipeline(engine))
    process = lifecycle.started(node).process_uuid
    assert process is not None
    # The key exactly as Lambda names it: no extension, the time with dots.
    s3.put_object(Bucket=bucket, Key=key("9b2f6a1e-4c3d-4e5f-8a9b-0c1d2e3f4a5b"),
                  Body=json.dumps(record(node, process, condition="EventAgeExceeded")).encode())
    (done,) = consume_pending(store, lifecycle, limit=10)
    assert done.applied and done.node_uuid == node
    row = node_row(engine, node)
    assert row.status == "failed" and row.metadata["error_type"] == "EventAgeExceeded"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
