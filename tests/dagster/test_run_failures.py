"""The run-failure sensor never replaces a real error with a false one (issue 7.7).

Two runs of the same node fail inside one sensor interval, in either order: a run's failure
touches only nodes that run was responsible for and that are still live, a recorded reason is
never overwritten by a less precise one, and `failures` moves once per run that really died
before the node.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, build_sensor_context, instance_for_test
from dagster._core.test_utils import create_run_for_test

from tests.db.helpers import events, make_node, make_pipeline, node_row
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.domain.keys import asset_key_path
from video_dagster.resources.database import DatabaseResource
from video_dagster.sensors.run_failures import build_run_failure_sensor

NO_EXECUTOR = "no executor for generate-voiceover"


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def resources(db_url: str) -> dict[str, Any]:
    return {"database": DatabaseResource(url=db_url)}


def auto_run(instance: DagsterInstance, engine: sa.Engine, nid: str) -> Any:
    row = node_row(engine, nid)
    key = AssetKey(asset_key_path(str(row.pipeline_id), nid, row.type))
    return create_run_for_test(instance, job_name="__ASSET_JOB", tags={"video/trigger": "auto"},
                               asset_selection=frozenset({key}))


def tick(instance: DagsterInstance, resources: dict[str, Any], cursor: str | None = None) -> Any:
    return build_run_failure_sensor()(
        build_sensor_context(instance=instance, resources=resources, cursor=cursor)).cursor


@pytest.mark.parametrize("order", ["oldest first", "newest first"])
def test_a_run_that_started_the_node_never_rewrites_its_error(engine, instance, resources,
                                                              order):
    """The observed bug: failed in run A, retried and failed again in run B, both runs end
    inside one interval; A's failure must not turn the node's error into 'before the node
    started' (it had started) nor bump `failures` past the two real failures."""
    nid = make_node(engine, make_pipeline(engine))
    lc = Lifecycle(engine)
    first = auto_run(instance, engine, nid)
    lc.failed(nid, NO_EXECUTOR, lc.started(nid, run_id=first.run_id).process_uuid, "NoExecutor")
    retry = auto_run(instance, engine, nid)
    lc.failed(nid, NO_EXECUTOR, lc.started(nid, run_id=retry.run_id).process_uuid, "NoExecutor")
    before = len(events(engine, nid))
    for run in ((first, retry) if order == "oldest first" else (retry, first)):
        instance.report_run_failed(run, "step failed")
    tick(instance, resources)
    row = node_row(engine, nid)
    assert row.status == "failed" and row.failures == 2
    assert row.metadata["error"] == NO_EXECUTOR and row.metadata["error_type"] == "NoExecutor"
    assert row.metadata["dagster_run_id"] == retry.run_id
    assert len(events(engine, nid)) == before  # not even a stale attempt


def test_a_retry_run_that_died_before_the_node_counts_once_and_keeps_the_reason(
        engine, instance, resources):
    nid = make_node(engine, make_pipeline(engine))
    lc = Lifecycle(engine)
    first = auto_run(instance, engine, nid)
    lc.failed(nid, "provider 500", lc.started(nid, run_id=first.run_id).process_uuid, "Provider")
    retry = auto_run(instance, engine, nid)  # launched after the failure, dies before the node
    instance.report_run_failed(retry, "launch failed")
    instance.report_run_failed(first, "step failed")  # reported late, same interval
    cursor = tick(instance, resources)
    row = node_row(engine, nid)
    assert row.failures == 2 and row.metadata["dagster_run_id"] == retry.run_id
    assert row.metadata["error"] == (f"provider 500 (then retry run {retry.run_id} FAILURE "
                                     "before the node started: launch failed)")
    assert row.metadata["error_type"] == "Provider"
    again = auto_run(instance, engine, nid)  # the next retry dies too: counted, reason kept
    instance.report_run_failed(again, "launch failed again")
    tick(instance, resources, cursor)
    row = node_row(engine, nid)
    assert row.failures == 3 and row.metadata["error"] == (
        f"provider 500 (then retry run {again.run_id} FAILURE before the node started: "
        "launch failed again)")


def test_an_older_run_reported_after_a_newer_one_never_matches(engine, instance, resources):
    nid = make_node(engine, make_pipeline(engine))
    older, newer = auto_run(instance, engine, nid), auto_run(instance, engine, nid)
    instance.report_run_failed(newer, "launch failed")
    cursor = tick(instance, resources)
    assert node_row(engine, nid).failures == 1
    instance.report_run_failed(older, "launch failed long ago")
    tick(instance, resources, cursor)
    row = node_row(engine, nid)
    assert row.failures == 1 and row.metadata["dagster_run_id"] == newer.run_id
    assert "launch failed long ago" not in row.metadata["error"]


def test_a_live_or_completed_node_is_never_touched_by_an_older_run(engine, instance, resources):
    pid = make_pipeline(engine)
    running, done = make_node(engine, pid), make_node(engine, pid)
    lc = Lifecycle(engine)
    old_runs = [auto_run(instance, engine, n) for n in (running, done)]
    lc.started(running, run_id=auto_run(instance, engine, running).run_id)
    new_done = auto_run(instance, engine, done)
    lc.succeeded(done, {"type": "text"}, lc.started(done, run_id=new_done.run_id).process_uuid)
    for run in old_runs:
        instance.report_run_failed(run, "crashed")
    tick(instance, resources)
    assert node_row(engine, running).status == "in_progress"
    assert node_row(engine, done).status == "completed"
    assert node_row(engine, running).failures == node_row(engine, done).failures == 0
