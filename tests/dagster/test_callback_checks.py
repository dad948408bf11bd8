"""Poisoned or lying callback objects: quarantined with a reason, never block, never complete."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, SensorResult, build_sensor_context, instance_for_test

from tests.conftest import use_fake_aws
from tests.db.helpers import make_node, make_pipeline, node_row
from video_dagster.assets import callbacks
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.domain.keys import callback_key, node_output_key
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.object_store import (
    LocalObjectStore,
    ObjectStore,
    ObjectStoreResource,
    S3ObjectStore,
)
from video_dagster.sensors.callbacks import build_callbacks_sensor

BUCKET = "cb-bucket"
POISON = '"__POISON__"'


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects", BUCKET)


@pytest.fixture
def lc(engine: sa.Engine) -> Lifecycle:
    return Lifecycle(engine)


def _voice(engine: sa.Engine, lc: Lifecycle, store: ObjectStore, type_: str = "generate-voiceover",
           config: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """A live execution of a node, its stored output object, and the honest result for it."""
    pid = make_pipeline(engine)
    nid = make_node(engine, pid, type=type_, config=config or {"provider": "elevenlabs"})
    process = lc.started(nid).process_uuid
    assert process is not None
    name, kind = ("voice.mp3", "audio") if type_ == "generate-voiceover" else ("out.mp4", "video")
    key = node_output_key(pid, nid, name)
    store.put_bytes(key, b"\x00" * 64)
    return nid, process, {"type": kind, "s3Key": key, "size": 64, "duration": 1.0}


def _body(nid: str, process: str, result: Any, executor: str = "generate-voiceover") -> bytes:
    return json.dumps({"node_uuid": nid, "process_uuid": process, "executor_type": executor,
                       "result": result}).encode()


def _tick(instance: DagsterInstance, resources: dict[str, Any]) -> SensorResult:
    result = build_callbacks_sensor(frozenset())(
        build_sensor_context(instance=instance, resources=resources))
    assert isinstance(result, SensorResult)
    return result


POISONS = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "1e999": "1e999",
    "NUL": '"a\\u0000b"',
    "lone surrogate": '"\\ud800"',
    "5,000 digits": "7" * 5000,
    "200k nesting": "[" * 200_000 + "]" * 200_000,
    "16 MB": '"' + "x" * (16 * 1024 * 1024) + '"',
}


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
def test_a_poisoned_callback_fails_its_node_and_never_blocks_the_next(
        engine, lc, store, tmp_path, db_url, poison):
    first, first_process, first_result = _voice(engine, lc, store)
    second, second_process, second_result = _voice(engine, lc, store)
    if first > second:  # the poisoned object must sort before the good one
        first, first_process, first_result, second, second_process, second_result = (
            second, second_process, second_result, first, first_process, first_result)
    raw = _body(first, first_process, {**first_result, "extra": "__POISON__"})
    store.put_bytes(callback_key(first, first_process), raw.replace(POISON.encode(),
                                                                    poison.encode()))
    store.put_bytes(callback_key(second, second_process), _body(second, second_process,
                                                                second_result))
    resources = {"database": DatabaseResource(url=db_url),
                 "object_store": ObjectStoreResource(backend="local",
                                                     local_root=str(tmp_path / "objects"),
                                                     bucket=BUCKET)}
    with instance_for_test() as instance:
        _tick(instance, resources)
    poisoned, good = node_row(engine, first), node_row(engine, second)
    assert good.status == "completed" and good.output["s3Key"] == second_result["s3Key"]
    assert poisoned.status == "failed" and poisoned.output is None
    assert poisoned.metadata["error"].startswith("callback rejected: ")
    assert len(poisoned.metadata["error"]) < 300
    assert list(store.list("callbacks/")) == []
    kept = "quarantine/" + callback_key(first, first_process)
    assert store.exists(kept)
    note = json.loads(store.get_bytes(kept + ".reason.json"))
    assert note["reason"] == poisoned.metadata["error"].removeprefix("callback rejected: ")


def test_s3_keys_with_empty_dot_and_dotdot_segments_are_quarantined(
        engine, lc, db_url, moto_endpoint, monkeypatch, tmp_path):
    use_fake_aws(monkeypatch, tmp_path, "fake-secret")
    bucket = f"cb-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    s3 = S3ObjectStore(bucket, endpoint_url=moto_endpoint, region_name="us-east-1")
    odd = ["callbacks//x.json", "callbacks/./y.json", "callbacks/a/../b.json"]
    for key in odd:
        s3.client.put_object(Bucket=bucket, Key=key, Body=b"{}")
    nid, process, result = _voice(engine, lc, s3)
    s3.put_bytes(callback_key(nid, process), _body(nid, process, result))
    # The store itself reads, stats, moves and deletes such listed keys.
    assert s3.get_bytes(odd[0]) == b"{}" and s3.stat(odd[1]) is not None
    resources = {"database": DatabaseResource(url=db_url),
                 "object_store": ObjectStoreResource(backend="s3", bucket=bucket,
                                                     endpoint_url=moto_endpoint,
                                                     region_name="us-east-1")}
    with instance_for_test() as instance:
        _tick(instance, resources)
    assert node_row(engine, nid).status == "completed"
    assert list(s3.list("callbacks/")) == []
    kept = sorted(o.key for o in s3.list("quarantine/") if not o.key.endswith(".reason.json"))
    assert kept == sorted(callbacks.quarantine_key(k) for k in odd)


def _other_node_object(engine, store) -> str:
    pid = make_pipeline(engine)
    key = node_output_key(pid, str(uuid.uuid4()), "voice.mp3")
    store.put_bytes(key, b"x")
    return key


LIES = {
    "path traversal": (lambda r, e, s: {**r, "s3Key": "../../../../etc/passwd"}, "not a valid key"),
    "file uri": (lambda r, e, s: {**r, "s3Key": 5, "uri": "file:///etc/passwd"},
                 "s3Key is not a string"),
    "other bucket": (lambda r, e, s: {**r, "s3Key": "", "uri": "s3://other-bucket/k.mp4"},
                     "is not in this store"),
    "foreign uri only": (lambda r, e, s: {k: v for k, v in r.items() if k != "s3Key"} | {
        "uri": "file:///etc/passwd"}, "is not in this store"),
    "another node's object": (lambda r, e, s: {**r, "s3Key": _other_node_object(e, s)},
                              "outside the node's prefix"),
    "missing object": (lambda r, e, s: {**r, "s3Key": r["s3Key"] + ".gone.mp3"},
                       "does not exist"),
    "wrong media type": (lambda r, e, s: {**r, "type": "video"}, "is not what a"),
    "misnamed media": (lambda r, e, s: {**r, "s3Key": r["s3Key"].replace(".mp3", ".mp4")},
                       "named like video"),
}


@pytest.mark.parametrize("lie", LIES.values(), ids=LIES.keys())
def test_a_result_naming_something_else_fails_the_node_and_is_kept(engine, lc, store, lie):
    nid, process, result = _voice(engine, lc, store)
    make_result, reason = lie
    if "named like" in reason:
        store.put_bytes(result["s3Key"].replace(".mp3", ".mp4"), b"x")
    key = callback_key(nid, process)
    store.put_bytes(key, _body(nid, process, make_result(result, engine, store)))
    consumed = callbacks.consume(key, store, lc)
    row = node_row(engine, nid)
    assert row.status == "failed" and row.output is None
    assert reason in row.metadata["error"] and row.metadata["error_type"] == "InvalidCallback"
    assert consumed.quarantined == "quarantine/" + key and store.exists(consumed.quarantined)
    assert not store.exists(key)


def test_executor_type_must_match_the_node(engine, lc, store):
    nid, process, result = _voice(engine, lc, store, type_="asset", config={})
    key = callback_key(nid, process)
    store.put_bytes(key, _body(nid, process, result, executor="generate-voiceover"))
    callbacks.consume(key, store, lc)
    row = node_row(engine, nid)
    assert row.status == "failed" and "does not match the node's type 'asset'" in (
        row.metadata["error"])


def test_legacy_talking_head_spelling_is_the_same_type(engine, lc, store):
    nid, process, result = _voice(engine, lc, store, type_="talking-head",
                                  config={"provider": "heygen", "avatarId": "a"})
    key = callback_key(nid, process)
    store.put_bytes(key, _body(nid, process, result, executor="generate-talking-head"))
    callbacks.consume(key, store, lc)
    row = node_row(engine, nid)
    assert row.status == "completed" and row.output["uri"] == store.uri(result["s3Key"])


def test_body_naming_another_execution_than_its_key_completes_neither(engine, lc, store):
    a, a_process, a_result = _voice(engine, lc, store)
    b, b_process, _ = _voice(engine, lc, store)
    key = callback_key(b, b_process)
    store.put_bytes(key, _body(a, a_process, a_result))  # A's result written at B's key
    callbacks.consume(key, store, lc)
    assert node_row(engine, a).status == "in_progress"
    row_b = node_row(engine, b)
    assert row_b.status == "failed" and "its key names" in row_b.metadata["error"]
    assert store.exists("quarantine/" + key)


def test_local_junk_names_are_quarantined_and_the_rest_applied(engine, lc, store, tmp_path,
                                                               db_url):
    folder = tmp_path / "objects" / BUCKET / "callbacks"
    folder.mkdir(parents=True)
    (folder / "0-not-a-report.txt").write_bytes(b"junk")
    with open(bytes(folder) + b"/\xff\xfe.json", "wb") as fh:  # not a UTF-8 file name
        fh.write(b"{}")
    nid, process, result = _voice(engine, lc, store)
    store.put_bytes(callback_key(nid, process), _body(nid, process, result))
    resources = {"database": DatabaseResource(url=db_url),
                 "object_store": ObjectStoreResource(backend="local",
                                                     local_root=str(tmp_path / "objects"),
                                                     bucket=BUCKET)}
    with instance_for_test() as instance:
        _tick(instance, resources)
    assert node_row(engine, nid).status == "completed"
    assert list(store.list("callbacks/")) == []
    assert len([o for o in store.list("quarantine/") if o.key.endswith(".reason.json")]) == 2


class _FlakyStore(LocalObjectStore):
    """A real local store whose reads of one key fail like a dropped S3 connection."""

    def __init__(self, root: Path, bucket: str, broken: str) -> None:
        super().__init__(root, bucket)
        self.broken = broken

    def open_read(self, key: str):  # type: ignore[no-untyped-def]
        if key == self.broken:
            raise ConnectionResetError("connection reset by peer")
        return super().open_read(key)


def test_an_object_that_cannot_be_read_stays_for_the_next_tick_and_blocks_nothing(
        engine, lc, tmp_path):
    from video_dagster.sensors.callbacks import consume_pending

    plain = LocalObjectStore(tmp_path / "objects", BUCKET)
    runs = sorted([_voice(engine, lc, plain), _voice(engine, lc, plain)])
    (first, first_process, _), (second, second_process, second_result) = runs
    broken = callback_key(first, first_process)  # sorts first
    plain.put_bytes(broken, b"{}")
    plain.put_bytes(callback_key(second, second_process),
                    _body(second, second_process, second_result))
    consumed = consume_pending(_FlakyStore(tmp_path / "objects", BUCKET, broken), lc, 10, 30.0)
    assert consumed[0].problem is not None
    assert consumed[0].problem.startswith("not consumed: ConnectionResetError")
    assert node_row(engine, second).status == "completed"
    assert plain.exists(broken) and node_row(engine, first).status == "in_progress"


@pytest.mark.parametrize(
    ("reported", "recorded"),
    [(0.0042, 0.0042), (0, 0.0), (True, None), (False, None), (-1, None), (1e6, None),
     ("0.1", None), (None, None)],
)
def test_a_callback_cost_is_kept_only_when_plausible(reported, recorded):
    assert callbacks.lambda_cost(reported) == recorded
