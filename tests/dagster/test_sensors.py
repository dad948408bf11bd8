"""The five sensors against real PostgreSQL, a Dagster test instance and a local object store."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import (
    AssetKey,
    AssetSpec,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    SensorResult,
    build_sensor_context,
    instance_for_test,
    multi_asset,
)
from dagster._core.test_utils import create_run_for_test

from tests.db.helpers import make_node, make_pipeline, node_row
from video_dagster.db import editing
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.domain.keys import asset_key_path, callback_key
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.object_store import LocalObjectStore, ObjectStoreResource
from video_dagster.sensors import build_sensors
from video_dagster.sensors.callbacks import build_callbacks_sensor
from video_dagster.sensors.ready import MAX_AUTO_RETRIES, build_ready_nodes_sensor
from video_dagster.sensors.reaper import build_deadline_reaper_sensor
from video_dagster.sensors.run_failures import build_run_failure_sensor
from video_dagster.sensors.validation import build_validation_sensor

BUCKET = "test-bucket"
VOICE = {"provider": "elevenlabs"}


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def resources(db_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "database": DatabaseResource(url=db_url),
        "object_store": ObjectStoreResource(backend="local", local_root=str(tmp_path),
                                            bucket=BUCKET),
    }


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path, BUCKET)


@pytest.fixture
def lc(engine: sa.Engine) -> Lifecycle:
    return Lifecycle(engine)


def tick(sensor: Any, instance: DagsterInstance, resources: dict[str, Any],
         cursor: str | None = None) -> SensorResult:
    result = sensor(build_sensor_context(instance=instance, resources=resources, cursor=cursor))
    assert isinstance(result, SensorResult)
    return result


def key(engine: sa.Engine, node_id: str) -> AssetKey:
    row = node_row(engine, node_id)
    return AssetKey(asset_key_path(str(row.pipeline_id), node_id, row.type))


def complete(lc: Lifecycle, node_id: str) -> None:
    process = lc.started(node_id).process_uuid
    assert process is not None
    lc.succeeded(node_id, {"type": "text"}, process)


def requested(result: SensorResult) -> set[AssetKey]:
    return {k for r in result.run_requests or [] for k in r.asset_selection or []}


# -- validation ---------------------------------------------------------------------------------


def test_validation_sensor_validates_an_editor_inserted_node(engine, instance, resources):
    pid = make_pipeline(engine)
    with engine.begin() as conn:  # the editor writes rows directly, without validating
        nid = conn.execute(sa.text(
            "INSERT INTO video_production_nodes (pipeline_id, title, type, config) "
            "VALUES (:p, 'Voice', 'generate-voiceover', '{\"provider\": \"nope\"}') RETURNING id"
        ), {"p": pid}).scalar_one()
    assert node_row(engine, nid).validated_version == 0
    sensor = build_validation_sensor()
    result = tick(sensor, instance, resources)
    assert result.skip_reason is None
    row = node_row(engine, nid)
    assert row.validated_version == row.structure_version and row.is_valid is False
    assert row.validation_errors == {"provider": "must be one of: elevenlabs"}
    again = tick(sensor, instance, resources)
    assert again.skip_reason is not None and "no pipeline changed" in again.skip_reason.skip_message


# -- ready nodes --------------------------------------------------------------------------------


@pytest.fixture
def chain(engine: sa.Engine) -> tuple[str, str, str, str]:
    """A pipeline: an asset and two voiceovers reading it (string and one-element list shapes)."""
    pid = make_pipeline(engine, "Launch: v1")
    src = make_node(engine, pid)
    as_string = make_node(engine, pid, "generate-voiceover", inputs={"script": src}, config=VOICE)
    as_list = make_node(engine, pid, "generate-voiceover", inputs={"script": [src]}, config=VOICE)
    return pid, src, as_string, as_list


def test_ready_waits_for_inputs_and_reads_both_single_slot_shapes(engine, instance, resources,
                                                                  lc, chain):
    pid, src, as_string, as_list = chain
    keys = frozenset(key(engine, n) for n in (src, as_string, as_list))
    sensor = build_ready_nodes_sensor(keys)
    first = tick(sensor, instance, resources)
    # One run: the ready asset and the voiceovers that wait only on it (Dagster orders them).
    assert requested(first) == keys
    (run,) = first.run_requests or []
    assert run.tags == {"video/trigger": "auto", "video/pipeline_id": pid,
                        "video/pipeline_title": "Launch__v1", "video/executor": "multiprocess"}
    # While that run is in flight, none of its nodes is requested again.
    create_run_for_test(instance, job_name="__ASSET_JOB", asset_selection=frozenset(keys))
    assert not tick(sensor, instance, resources).run_requests
    # Without the run (say its downstream was skipped), both shapes are ready once src is done.
    with instance_for_test() as fresh:
        complete(lc, src)
        second = tick(sensor, fresh, resources)
    assert requested(second) == {key(engine, as_string), key(engine, as_list)}
    assert len(second.run_requests or []) == 1


def test_ready_validates_an_editor_written_pipeline_and_starts_it_in_the_same_tick(
        engine, instance, resources):
    pid = make_pipeline(engine)
    with engine.begin() as conn:  # the editor inserts rows directly, nobody validated them
        nid = conn.execute(sa.text(
            "INSERT INTO video_production_nodes (pipeline_id, title, type, asset) "
            "VALUES (:p, 'Clip', 'asset', '{\"content\": \"hi\"}') RETURNING id::text"
        ), {"p": pid}).scalar_one()
    assert node_row(engine, nid).validated_version == 0
    result = tick(build_ready_nodes_sensor(frozenset({key(engine, nid)})), instance, resources)
    assert requested(result) == {key(engine, nid)}
    assert node_row(engine, nid).is_valid
    (run,) = result.run_requests or []
    assert run.tags["video/executor"] == "in_process"  # one cheap asset node: no step process


def test_ready_downstream_joins_only_when_everything_it_waits_on_is_in_the_run(
        engine, instance, resources, lc):
    pid = make_pipeline(engine)
    a, b, busy = make_node(engine, pid), make_node(engine, pid), make_node(engine, pid)
    ffmpeg = {"provider": "ffmpeg"}
    ab = make_node(engine, pid, "merge-videos", inputs={"segments": [a, b]}, config=ffmpeg)
    top = make_node(engine, pid, "merge-videos", inputs={"segments": [ab, a]}, config=ffmpeg)
    blocked = make_node(engine, pid, "merge-videos", inputs={"segments": [a, busy]},
                        config=ffmpeg)
    unknown_mid = make_node(engine, pid, "merge-videos", inputs={"segments": [a, b]},
                            config=ffmpeg)
    below_unknown = make_node(engine, pid, "merge-videos", inputs={"segments": [unknown_mid, a]},
                              config=ffmpeg)
    lc.started(busy)  # in progress elsewhere: whatever reads it must wait
    keys = {n: key(engine, n) for n in (a, b, busy, ab, top, blocked, unknown_mid, below_unknown)}
    loaded = frozenset(k for n, k in keys.items() if n != unknown_mid)
    result = tick(build_ready_nodes_sensor(loaded), instance, resources)
    assert requested(result) == {keys[a], keys[b], keys[ab], keys[top]}
    (run,) = result.run_requests or []
    assert run.tags["video/executor"] == "multiprocess"  # two merges may wait at once
    assert run.run_key and run.run_key.startswith(f"video-ready:{pid}:")


def test_ready_never_returns_an_unknown_key_and_requests_the_rest(engine, instance, resources,
                                                                   chain):
    _, src, _, _ = chain
    pid2 = make_pipeline(engine, "Added after the graph was loaded")
    later = make_node(engine, pid2)
    sensor = build_ready_nodes_sensor(frozenset({key(engine, src)}))
    result = tick(sensor, instance, resources)
    assert requested(result) == {key(engine, src)}
    assert key(engine, later) not in requested(result)


def test_ready_requests_resolve_against_the_loaded_graph(engine, instance, resources, chain):
    """Through evaluate_tick, as the daemon does: an unknown key here would fail the tick."""
    _, src, _, _ = chain
    extra = make_node(engine, make_pipeline(engine))
    known = key(engine, src)

    @multi_asset(specs=[AssetSpec(known)], can_subset=True)
    def graph_assets() -> None:
        raise AssertionError("never executed")

    sensor = build_ready_nodes_sensor(frozenset({known}))
    defs = Definitions(assets=[graph_assets], sensors=[sensor], resources=resources)
    context = build_sensor_context(instance=instance, definitions=defs, resources=resources)
    data = sensor.evaluate_tick(context)
    assert [set(r.asset_selection or []) for r in data.run_requests] == [{known}]
    assert data.run_requests[0].job_name == "__ASSET_JOB"
    assert key(engine, extra) not in requested(SensorResult(run_requests=data.run_requests))


def test_ready_run_key_changes_with_version_attempt_failures_only(engine, instance, resources,
                                                                  lc, chain):
    _, src, _, _ = chain
    sensor = build_ready_nodes_sensor(frozenset({key(engine, src)}))

    def run_key() -> str:
        (run,) = tick(sensor, instance, resources).run_requests or []
        assert run.run_key is not None
        return run.run_key

    first = run_key()
    assert run_key() == first  # stable while nothing changes
    with engine.begin() as conn:
        editing.update_node(conn, src, title="Renamed")  # title only: not a structure change
    assert run_key() == first
    process = lc.started(src).process_uuid
    lc.failed(src, "provider said no", process)  # attempt and failures move
    after_failure = run_key()
    assert after_failure != first
    with engine.begin() as conn:
        editing.update_node(conn, src, asset={"content": "changed", "contentType": "text/plain"})
    assert run_key() not in (first, after_failure)  # structure version moved


def test_failed_nodes_stop_being_requested_after_max_auto_retries(engine, instance, resources,
                                                                 lc, chain):
    _, src, _, _ = chain
    sensor = build_ready_nodes_sensor(frozenset({key(engine, src)}))
    for failures in range(MAX_AUTO_RETRIES):
        assert requested(tick(sensor, instance, resources)) == {key(engine, src)}, failures
        lc.failed(src, "boom", lc.started(src).process_uuid)
    assert node_row(engine, src).failures == MAX_AUTO_RETRIES
    result = tick(sensor, instance, resources)
    assert not result.run_requests and result.skip_reason is not None


def test_ready_tolerates_a_non_uuid_reference(engine, instance, resources, lc, chain):
    _, src, as_string, _ = chain
    complete(lc, src)
    with engine.begin() as conn:
        # Only a stale verdict can mark such a node valid; the query must still not error.
        conn.execute(sa.text("UPDATE video_production_nodes SET inputs = :i WHERE id = :id"),
                     {"i": json.dumps({"script": ["not-a-uuid"]}), "id": as_string})
        conn.execute(sa.text(
            "UPDATE video_production_nodes SET is_valid = true, "
            "validated_version = structure_version WHERE id = :id"), {"id": as_string})
    keys = frozenset(key(engine, n) for n in (src, as_string))
    result = tick(build_ready_nodes_sensor(keys), instance, resources)
    assert key(engine, as_string) not in requested(result)


def test_ready_skips_keys_of_runs_in_flight_and_pages_with_a_cursor(engine, instance, resources,
                                                                    lc):
    pid = make_pipeline(engine)
    nodes = [make_node(engine, pid) for _ in range(3)]
    keys = [key(engine, n) for n in sorted(nodes)]
    create_run_for_test(instance, job_name="__ASSET_JOB",  # NOT_STARTED: in flight
                        asset_selection=frozenset({keys[0]}))
    sensor = build_ready_nodes_sensor(frozenset(keys), scan_limit=2)
    first = tick(sensor, instance, resources)
    assert requested(first) == {keys[1]}  # keys[0] is already queued; window of 2
    assert first.cursor and first.cursor.endswith(sorted(nodes)[1])
    second = tick(sensor, instance, resources, cursor=first.cursor)
    assert requested(second) == {keys[2]} and second.cursor == ""


# -- callbacks ----------------------------------------------------------------------------------


def report(node_id: str, process: str, **body: Any) -> bytes:
    return json.dumps({"node_uuid": node_id, "process_uuid": process,
                       "executor_type": "generate-voiceover", **body}).encode()


def voice_node(engine: sa.Engine, store: LocalObjectStore) -> tuple[str, dict[str, Any]]:
    """A voiceover node and the result its executor would report (the object exists)."""
    pid = make_pipeline(engine)
    nid = make_node(engine, pid, type="generate-voiceover", config=VOICE)
    result = {"type": "audio", "s3Key": f"pipelines/{pid}/nodes/{nid}/voice.mp3", "size": 1234,
              "duration": 2.5, "cost": 0.02}
    store.put_bytes(result["s3Key"], b"\xff\xfb" * 617)
    return nid, result


def test_callbacks_apply_success_and_emit_runless_materialization(engine, instance, resources,
                                                                  lc, store):
    nid, result_body = voice_node(engine, store)
    process = lc.started(nid).process_uuid  # no Dagster run waits for it
    assert process is not None
    store.put_bytes(callback_key(nid, process), report(nid, process, result=result_body))
    sensor = build_callbacks_sensor(frozenset({key(engine, nid)}))
    result = tick(sensor, instance, resources)
    row = node_row(engine, nid)
    assert row.status == "completed" and row.output["s3Key"] == result_body["s3Key"]
    assert not store.exists(callback_key(nid, process))
    (event,) = result.asset_events
    assert event.asset_key == key(engine, nid)
    meta = {k: v.value for k, v in event.metadata.items()}
    assert meta == {"dagster/uri": store.uri(result_body["s3Key"]), "size": 1234, "duration": 2.5,
                    "cost": 0.02, "process_uuid": process}

    # The same report delivered twice: a stale no-op, deleted again.
    store.put_bytes(callback_key(nid, process), report(nid, process, result=result_body))
    again = tick(sensor, instance, resources)
    assert again.asset_events == []
    assert node_row(engine, nid).output == row.output
    assert not store.exists(callback_key(nid, process))


def test_callbacks_no_runless_materialization_while_a_run_waits(engine, instance, resources, lc,
                                                               store):
    nid, result_body = voice_node(engine, store)
    run = create_run_for_test(instance, job_name="__ASSET_JOB", status=DagsterRunStatus.STARTED)
    process = lc.started(nid, run_id=run.run_id).process_uuid
    assert process is not None
    store.put_bytes(callback_key(nid, process), report(nid, process, result=result_body))
    result = tick(build_callbacks_sensor(frozenset({key(engine, nid)})), instance, resources)
    assert node_row(engine, nid).status == "completed" and result.asset_events == []


def test_callbacks_stale_process_changes_nothing(engine, instance, resources, lc, store):
    nid, result_body = voice_node(engine, store)
    current = lc.started(nid).process_uuid
    other = str(uuid.uuid4())
    store.put_bytes(callback_key(nid, other), report(nid, other, result=result_body))
    result = tick(build_callbacks_sensor(frozenset({key(engine, nid)})), instance, resources)
    row = node_row(engine, nid)
    assert row.status == "in_progress" and str(row.process_uuid) == current
    assert result.asset_events == [] and not store.exists(callback_key(nid, other))


def test_callbacks_malformed_json_fails_the_node_and_is_quarantined(engine, instance, resources,
                                                                    lc, store):
    nid = make_node(engine, make_pipeline(engine))
    process = lc.started(nid).process_uuid
    assert process is not None
    store.put_bytes(callback_key(nid, process), b"{not json")
    tick(build_callbacks_sensor(frozenset({key(engine, nid)})), instance, resources)
    row = node_row(engine, nid)
    assert row.status == "failed"
    assert row.metadata["error"].startswith("callback rejected: is not JSON")
    assert row.metadata["error_type"] == "InvalidCallback"
    assert not store.exists(callback_key(nid, process))
    assert store.get_bytes("quarantine/" + callback_key(nid, process)) == b"{not json"


def test_callbacks_nothing_waiting_is_a_skip(instance, resources):
    result = tick(build_callbacks_sensor(frozenset()), instance, resources)
    assert result.skip_reason is not None


# -- run failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["failed", "canceled"])
def test_run_failure_fails_the_nodes_of_a_failed_or_canceled_run(engine, instance, resources, lc,
                                                                 how):
    pid = make_pipeline(engine)
    nid, bystander = make_node(engine, pid), make_node(engine, pid)
    run = create_run_for_test(instance, job_name="__ASSET_JOB")  # a UI run: no video tags
    other = create_run_for_test(instance, job_name="__ASSET_JOB", status=DagsterRunStatus.STARTED)
    process = lc.started(nid, run_id=run.run_id).process_uuid
    lc.started(bystander, run_id=other.run_id)
    if how == "failed":
        instance.report_run_failed(run, "worker crashed")
    else:
        instance.report_run_canceled(run, "operator stopped it")
    sensor = build_run_failure_sensor()
    result = tick(sensor, instance, resources)
    row = node_row(engine, nid)
    status = "FAILURE" if how == "failed" else "CANCELED"
    reason = "worker crashed" if how == "failed" else "operator stopped it"
    assert row.status == "failed" and row.metadata["error_type"] == "RunFailed"
    assert row.metadata["error"] == f"Dagster run {run.run_id} {status}: {reason}"
    assert str(row.process_uuid) == process
    assert node_row(engine, bystander).status == "in_progress"
    cursor = json.loads(result.cursor or "{}")
    assert cursor["failure" if how == "failed" else "canceled"] > 0
    again = tick(sensor, instance, resources, cursor=result.cursor)
    assert again.skip_reason is not None


def test_run_failure_fails_nodes_an_auto_run_never_started(engine, instance, resources):
    nid = make_node(engine, make_pipeline(engine))
    run = create_run_for_test(instance, job_name="__ASSET_JOB", tags={"video/trigger": "auto"},
                              asset_selection=frozenset({key(engine, nid)}))
    instance.report_run_failed(run, "launch failed")
    tick(build_run_failure_sensor(), instance, resources)
    row = node_row(engine, nid)
    # failures moves, so the ready sensor's run_key changes and the node is retried.
    assert row.status == "failed" and row.failures == 1
    assert "before the node started" in row.metadata["error"]


def test_run_failure_leaves_pending_the_nodes_dagster_skipped(engine, instance, resources, lc):
    pid = make_pipeline(engine)
    a, b = make_node(engine, pid), make_node(engine, pid)
    merge = make_node(engine, pid, "merge-videos", inputs={"segments": [a, b]},
                      config={"provider": "ffmpeg"})
    run = create_run_for_test(instance, job_name="__ASSET_JOB", tags={"video/trigger": "auto"},
                              asset_selection=frozenset(key(engine, n) for n in (a, b, merge)))
    complete(lc, a)
    lc.failed(b, "provider 500", lc.started(b, run_id=run.run_id).process_uuid)
    instance.report_run_failed(run, "step b failed; the merge was skipped")
    tick(build_run_failure_sensor(), instance, resources)
    row = node_row(engine, merge)
    # Its upstream b (same run) failed: b's retry brings it along; no failure is counted.
    assert row.status == "pending" and row.failures == 0


def test_run_failure_counts_a_retry_run_that_died_before_a_failed_node(
    engine, instance, resources, lc
):
    nid = make_node(engine, make_pipeline(engine))
    first = create_run_for_test(instance, job_name="__ASSET_JOB", tags={"video/trigger": "auto"},
                                asset_selection=frozenset({key(engine, nid)}))
    lc.failed(nid, "provider 500", lc.started(nid, run_id=first.run_id).process_uuid)
    instance.report_run_failed(first, "the step failed")
    tick(build_run_failure_sensor(), instance, resources)
    assert node_row(engine, nid).failures == 1  # the run reached the node: nothing more to do
    retry = create_run_for_test(instance, job_name="__ASSET_JOB", tags={"video/trigger": "auto"},
                                asset_selection=frozenset({key(engine, nid)}))
    instance.report_run_failed(retry, "launch failed")
    cursor = None
    for _ in range(2):
        cursor = tick(build_run_failure_sensor(), instance, resources, cursor=cursor).cursor
    row = node_row(engine, nid)
    # failures moves again, so the retry's run_key changes and the node is not stuck.
    assert row.status == "failed" and row.failures == 2


def test_run_failure_catches_orphans_after_the_grace_period(engine, instance, resources, lc):
    pid = make_pipeline(engine)
    lost, done, live = (make_node(engine, pid) for _ in range(3))
    finished = create_run_for_test(instance, job_name="__ASSET_JOB",
                                   status=DagsterRunStatus.SUCCESS)
    running = create_run_for_test(instance, job_name="__ASSET_JOB",
                                  status=DagsterRunStatus.STARTED)
    lc.started(lost, run_id=str(uuid.uuid4()))  # a run this instance never heard of
    lc.started(done, run_id=finished.run_id)
    lc.started(live, run_id=running.run_id)
    tick(build_run_failure_sensor(), instance, resources)  # default grace: too recent
    assert {node_row(engine, n).status for n in (lost, done, live)} == {"in_progress"}
    tick(build_run_failure_sensor(grace=timedelta(0)), instance, resources)
    assert node_row(engine, lost).metadata["error_type"] == "RunLost"
    assert "unknown to this Dagster instance" in node_row(engine, lost).metadata["error"]
    assert "ended SUCCESS" in node_row(engine, done).metadata["error"]
    assert node_row(engine, live).status == "in_progress"


# -- reaper -------------------------------------------------------------------------------------


def test_reaper_fails_only_executions_past_their_deadline(engine, instance, resources, lc):
    pid = make_pipeline(engine)
    late, on_time = make_node(engine, pid), make_node(engine, pid)
    lc.started(late, timeout=timedelta(seconds=-5))
    lc.started(on_time)
    deadline = node_row(engine, late).deadline_at
    tick(build_deadline_reaper_sensor(), instance, resources)
    row = node_row(engine, late)
    assert row.status == "failed" and row.metadata["error_type"] == "Timeout"
    assert row.metadata["error"] == (f"execution exceeded its deadline ({deadline.isoformat()}) "
                                     "without reporting back")
    assert node_row(engine, on_time).status == "in_progress"
    assert tick(build_deadline_reaper_sensor(), instance, resources).skip_reason is not None


def test_build_sensors_returns_all_six_running_by_default():
    sensors = build_sensors(frozenset())
    assert sorted(s.name for s in sensors) == [
        "video_callbacks_sensor", "video_deadline_reaper_sensor", "video_node_checks_sensor",
        "video_ready_nodes_sensor", "video_run_failure_sensor", "video_validation_sensor",
    ]
    assert all(s.default_status.value == "RUNNING" for s in sensors)
    intervals = {s.name: s.minimum_interval_seconds or 0 for s in sensors}
    # The ready sensor runs every daemon loop (its queries are index-backed); the rest poll.
    assert intervals.pop("video_ready_nodes_sensor") == 1
    assert all(15 <= interval <= 30 for interval in intervals.values())
