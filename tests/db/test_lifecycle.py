"""Lifecycle transitions on real PostgreSQL (DESIGN §5)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tests.db.helpers import events, make_node, make_pipeline, node_row, pipeline_meta
from video_dagster.db import editing
from video_dagster.db.lifecycle import Applied, Lifecycle, Stale


@pytest.fixture
def lc(engine: sa.Engine) -> Lifecycle:
    return Lifecycle(engine)


@pytest.fixture
def node(engine: sa.Engine) -> tuple[str, str]:
    pid = make_pipeline(engine)
    return pid, make_node(engine, pid)


def test_started_sets_in_progress_with_new_process(engine, lc, node):
    pid, nid = node
    res = lc.started(nid, run_id="run-1")
    assert isinstance(res, Applied) and res.status == "in_progress"
    row = node_row(engine, nid)
    assert row.status == "in_progress"
    assert str(row.process_uuid) == res.process_uuid
    assert row.metadata["process_uuid"] == res.process_uuid
    assert row.metadata["dagster_run_id"] == "run-1"
    assert "started_at" in row.metadata
    assert row.attempt == 1 and row.deadline_at is not None
    assert pipeline_meta(engine, pid)["progress"] == {
        "completed": 0, "in_progress": 1, "pending": 0, "failed": 0, "total": 1,
    }


def test_succeeded_completes_and_records_cost(engine, lc, node):
    pid, nid = node
    p = lc.started(nid).process_uuid
    res = lc.succeeded(nid, {"type": "text", "s3Key": "k", "size": 5}, p, cost=0.25)
    assert isinstance(res, Applied) and res.status == "completed"
    row = node_row(engine, nid)
    assert row.output == {"type": "text", "s3Key": "k", "size": 5}
    assert row.metadata["cost"] == 0.25 and "completed_at" in row.metadata
    assert row.deadline_at is None
    meta = pipeline_meta(engine, pid)
    assert meta["progress"]["completed"] == 1 and meta["totalCost"] == 0.25


def test_succeeded_replaces_output_wholesale(engine, lc, node):
    _, nid = node
    p1 = lc.started(nid).process_uuid
    lc.succeeded(nid, {"type": "text", "old": 1}, p1)
    p2 = lc.started(nid).process_uuid
    lc.succeeded(nid, {"type": "video"}, p2)
    assert node_row(engine, nid).output == {"type": "video"}


def test_stale_process_changes_nothing(engine, lc, node):
    _, nid = node
    lc.started(nid)
    before = node_row(engine, nid)
    other = str(uuid.uuid4())
    for res in (
        lc.updated(nid, {"stage": "x"}, other),
        lc.succeeded(nid, {"type": "video"}, other),
        lc.failed(nid, "boom", other),
    ):
        assert isinstance(res, Stale) and "not current" in res.reason
    after = node_row(engine, nid)
    assert after.status == before.status and after.metadata == before.metadata
    assert after.output is None
    assert [e.applied for e in events(engine, nid)] == [True, False, False, False]


def test_garbage_ids_are_stale_not_errors(lc, node):
    _, nid = node
    assert isinstance(lc.failed("not-a-uuid", "x"), Stale)
    assert isinstance(lc.succeeded(nid, {}, "not-a-uuid"), Stale)
    assert isinstance(lc.started(str(uuid.uuid4())), Stale)


@pytest.mark.parametrize("junk", [
    "", " ", "0" * 36, "00000000-0000-0000-0000-000000000000\n", "\x00" * 36,
    "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa'; DROP TABLE video_production_nodes; --",
    "x" * 100_000, "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "\ud800" * 36,
])
def test_hostile_ids_are_stale_and_block_nothing(engine, lc, node, junk):
    """Ids from callbacks and run tags: none raises, none writes, the next call still works."""
    _, nid = node
    assert isinstance(lc.failed(junk, "x"), Stale)
    assert isinstance(lc.updated(nid, {"stage": "x"}, junk), Stale)
    assert not events(engine, nid)
    assert isinstance(lc.started(nid), Applied)


def test_non_canonical_spellings_of_a_node_id_still_name_it(lc, node):
    """The fast canonical check falls back to uuid.UUID: upper case and braces are the node."""
    _, nid = node
    process = lc.started("{" + nid.upper() + "}").process_uuid
    assert isinstance(lc.succeeded(nid.replace("-", ""), {"type": "text"}, process.upper()),
                      Applied)


def test_updated_merges_metadata_only_for_current(engine, lc, node):
    _, nid = node
    p = lc.started(nid).process_uuid
    assert isinstance(lc.updated(nid, {"job_id": "j1", "stage": "rendering"}, p), Applied)
    lc.updated(nid, {"stage": "uploading"}, p)
    meta = node_row(engine, nid).metadata
    assert meta["job_id"] == "j1" and meta["stage"] == "uploading" and meta["process_uuid"] == p


def test_failed_without_process_matches_only_never_started(engine, lc, node):
    _, nid = node
    res = lc.failed(nid, "input missing")
    assert isinstance(res, Applied) and res.status == "failed"
    assert node_row(engine, nid).metadata["error"] == "input missing"
    p = lc.started(nid).process_uuid
    res = lc.failed(nid, "late report")
    assert isinstance(res, Stale)
    assert node_row(engine, nid).status == "in_progress"
    lc.failed(nid, "provider down", p)
    # A retry run that died before reaching the failed node still counts against its budget.
    res = lc.failed(nid, "retry run crashed")
    assert isinstance(res, Applied)
    row = node_row(engine, nid)
    assert row.failures == 3 and row.metadata["error"] == "retry run crashed"
    lc.succeeded(nid, {}, lc.started(nid).process_uuid)
    assert isinstance(lc.failed(nid, "late"), Stale)


def test_retry_after_failure_clears_previous_error(engine, lc, node):
    _, nid = node
    p1 = lc.started(nid).process_uuid
    lc.failed(nid, "provider 500", p1, error_type="ProviderError")
    row = node_row(engine, nid)
    assert row.status == "failed" and row.metadata["error"] == "provider 500"
    assert row.failures == 1
    p2 = lc.started(nid).process_uuid
    assert p2 != p1
    meta = node_row(engine, nid).metadata
    assert "error" not in meta and "completed_at" not in meta and "error_type" not in meta
    # The first attempt's late success is stale now.
    assert isinstance(lc.succeeded(nid, {"type": "video"}, p1), Stale)
    assert isinstance(lc.succeeded(nid, {"type": "video"}, p2), Applied)


def test_start_refused_while_in_progress(lc, node):
    _, nid = node
    lc.started(nid)
    res = lc.started(nid)
    assert isinstance(res, Stale) and "already in progress" in res.reason


def test_late_failure_cannot_flip_completed(engine, lc, node):
    _, nid = node
    p = lc.started(nid).process_uuid
    lc.succeeded(nid, {"type": "video"}, p)
    assert isinstance(lc.failed(nid, "late", p), Stale)
    assert isinstance(lc.succeeded(nid, {"type": "audio"}, p), Stale)
    assert node_row(engine, nid).status == "completed"
    assert node_row(engine, nid).output == {"type": "video"}


def test_structure_change_mid_execution_makes_it_stale(engine, lc, node):
    _, nid = node
    p = lc.started(nid).process_uuid
    with engine.begin() as conn:  # an editor-style partial write
        conn.execute(
            sa.text(
                "UPDATE video_production_nodes SET asset = jsonb_set(asset, '{content}', "
                "'\"changed\"') WHERE id = :id"
            ),
            {"id": nid},
        )
    row = node_row(engine, nid)
    assert row.status == "pending" and row.structure_version == 2 and row.process_uuid is None
    assert isinstance(lc.succeeded(nid, {"type": "text"}, p), Stale)
    assert node_row(engine, nid).status == "pending"
    assert [e.event for e in events(engine, nid)][-2:] == ["structure_changed", "succeeded"]


def test_title_only_change_keeps_status(engine, lc, node):
    _, nid = node
    p = lc.started(nid).process_uuid
    lc.succeeded(nid, {"type": "text"}, p)
    with engine.begin() as conn:
        editing.update_node(conn, nid, title="Renamed")
    row = node_row(engine, nid)
    assert row.status == "completed" and row.structure_version == 1 and row.title == "Renamed"


def test_progress_and_costs_follow_transitions(engine, lc):
    pid = make_pipeline(engine)
    a, b, c = (make_node(engine, pid) for _ in range(3))
    pa = lc.started(a).process_uuid
    lc.succeeded(a, {"type": "text"}, pa, cost=1.5)
    pb = lc.started(b).process_uuid
    lc.failed(b, "boom", pb)
    meta = pipeline_meta(engine, pid)
    assert meta["progress"] == {
        "completed": 1, "in_progress": 0, "pending": 1, "failed": 1, "total": 3,
    }
    assert meta["totalCost"] == 1.5
    assert meta["estimatedTotalCost"] == 0
    with engine.begin() as conn:
        editing.destroy_node(conn, c)
    assert pipeline_meta(engine, pid)["progress"]["total"] == 2


def test_events_are_append_only(engine, lc, node):
    _, nid = node
    lc.started(nid)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM video_production_node_events"))
