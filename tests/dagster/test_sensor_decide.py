"""The sensors' pure decide() functions, without a database or a Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dagster import AssetKey

from video_dagster.assets.callbacks import Consumed
from video_dagster.db.lifecycle import Applied, Stale
from video_dagster.db.validation import PipelineValidation
from video_dagster.domain.keys import asset_key_path
from video_dagster.sensors import callbacks, ready, reaper, run_failures, validation

P1 = "11111111-1111-4111-8111-111111111111"
P2 = "22222222-2222-4222-8222-222222222222"
A, B, C = (f"aaaaaaaa-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))


def node(pid: str, nid: str, version: int = 1, attempt: int = 0, failures: int = 0,
         title: str = "Launch video: v2 (final)") -> ready.ReadyNode:
    return ready.ReadyNode(pid, nid, title, version, attempt, failures, "merge-videos")


def key(pid: str, nid: str) -> AssetKey:
    return AssetKey(asset_key_path(pid, nid, "merge-videos"))


ALL = frozenset({key(P1, A), key(P1, B), key(P2, C)})


def decide(nodes: list[ready.ReadyNode], known: frozenset[AssetKey],
           in_flight: frozenset[AssetKey] = frozenset()) -> ready.ReadyDecision:
    page = ready.ReadyPage(nodes, scanned=len(nodes), last_scanned="")
    return ready.decide(page, known, in_flight, limit=10, scan_limit=100)


def requested_keys(d: ready.ReadyDecision) -> set[AssetKey]:
    return {k for r in d.run_requests for k in r.asset_selection or []}


def test_ready_groups_one_run_per_pipeline_with_tags() -> None:
    d = decide([node(P1, A), node(P1, B), node(P2, C)], ALL)
    assert [r.tags["video/pipeline_id"] for r in d.run_requests] == [P1, P2]
    first = d.run_requests[0]
    assert set(first.asset_selection or []) == {key(P1, A), key(P1, B)}
    assert first.tags["video/trigger"] == "auto"
    assert first.tags["video/pipeline_title"] == "Launch_video__v2__final_"
    assert first.run_key and first.run_key.startswith(f"video-ready:{P1}:")
    assert d.cursor == ""  # the window was not full: the next tick starts over


def test_ready_never_requests_an_unknown_key() -> None:
    unknown = "bbbbbbbb-0000-4000-8000-000000000009"
    d = decide([node(P1, A), node(P1, unknown)], ALL)
    assert d.waiting_for_reload == [key(P1, unknown)]
    assert [set(r.asset_selection or []) for r in d.run_requests] == [{key(P1, A)}]


def test_ready_skips_keys_already_in_flight() -> None:
    d = decide([node(P1, A), node(P1, B)], ALL, in_flight=frozenset({key(P1, A)}))
    assert d.already_requested == [key(P1, A)]
    assert [set(r.asset_selection or []) for r in d.run_requests] == [{key(P1, B)}]


def test_ready_nothing_requestable() -> None:
    d = decide([node(P1, A)], frozenset())
    assert d.run_requests == []


@pytest.mark.parametrize("change", [{"version": 2}, {"attempt": 1}, {"failures": 1}])
def test_run_key_changes_with_version_attempt_failures(change: dict[str, int]) -> None:
    base = ready.run_key(P1, [node(P1, A), node(P1, B)])
    assert base == ready.run_key(P1, [node(P1, B), node(P1, A)])  # order does not matter
    assert base == ready.run_key(P1, [node(P1, A, title="renamed"), node(P1, B)])
    assert base != ready.run_key(P1, [node(P1, A, **change), node(P1, B)])
    assert base != ready.run_key(P1, [node(P1, A)])


def test_ready_cursor_continues_after_a_full_window() -> None:
    full = ready.ReadyPage([node(P1, A)], scanned=100, last_scanned=f"{P2}/{C}")
    assert ready.decide(full, ALL, frozenset(), limit=10, scan_limit=100).cursor == f"{P2}/{C}"
    assert ready.parse_cursor(f"{P2}/{C}") == (P2, C)
    assert ready.parse_cursor("garbage") == (ready.NIL_UUID, ready.NIL_UUID)
    assert ready.parse_cursor(None) == (ready.NIL_UUID, ready.NIL_UUID)


def test_ready_more_ready_than_the_limit_continues_after_the_last_requested() -> None:
    page = ready.ReadyPage([node(P1, A), node(P1, B), node(P2, C)], 3, f"{P2}/{C}")
    d = ready.decide(page, ALL, frozenset(), limit=2, scan_limit=100)
    assert requested_keys(d) == {key(P1, A), key(P1, B)} and d.cursor == f"{P1}/{B}"


def waits(pid: str, nid: str, *on: str) -> ready.Downstream:
    return ready.Downstream(node(pid, nid), frozenset(on))


def test_ready_requests_the_downstream_closure_in_the_same_run() -> None:
    d1, d2, d3 = (f"dddddddd-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
    known = ALL | {key(P1, d) for d in (d1, d2, d3)}
    page = ready.ReadyPage([node(P1, A), node(P2, C)], 2, "", downstream={
        P1: [waits(P1, d2, d1, A), waits(P1, d1, A), waits(P1, d3, B)]})
    d = ready.decide(page, known, frozenset(), limit=10, scan_limit=100)
    assert [set(r.asset_selection or []) for r in d.run_requests] == [
        {key(P1, A), key(P1, d1), key(P1, d2)}, {key(P2, C)}]  # d3 waits on B, not in the run
    assert d.downstream == 2
    assert d.run_requests[0].run_key == ready.run_key(P1, [node(P1, A), node(P1, d1),
                                                           node(P1, d2)])


@pytest.mark.parametrize("why", ["unknown", "in flight"])
def test_ready_closure_stops_at_unknown_or_busy_nodes_and_below(why: str) -> None:
    d1, d2 = "dddddddd-0000-4000-8000-000000000001", "dddddddd-0000-4000-8000-000000000002"
    page = ready.ReadyPage([node(P1, A)], 1, "", downstream={
        P1: [waits(P1, d1, A), waits(P1, d2, d1)]})
    known = ALL | {key(P1, d2)} | ({key(P1, d1)} if why == "in flight" else set())
    busy = frozenset({key(P1, d1)}) if why == "in flight" else frozenset()
    d = ready.decide(page, known, busy, limit=10, scan_limit=100)
    assert requested_keys(d) == {key(P1, A)}


def test_ready_closure_respects_the_limit() -> None:
    chain = [f"dddddddd-0000-4000-8000-00000000000{i}" for i in range(5)]
    downstream = [waits(P1, n, prev) for prev, n in zip([A, *chain], chain, strict=False)]
    page = ready.ReadyPage([node(P1, A)], 1, "", downstream={P1: downstream})
    known = ALL | {key(P1, n) for n in chain}
    d = ready.decide(page, known, frozenset(), limit=3, scan_limit=100)
    assert requested_keys(d) == {key(P1, A), key(P1, chain[0]), key(P1, chain[1])}


@pytest.mark.parametrize(("types", "executor"), [
    (["asset", "asset"], "in_process"),
    (["asset", "merge-videos"], "in_process"),
    (["generate-voiceover", "merge-videos"], "multiprocess"),
])
def test_ready_runs_cheap_selections_in_process(types: list[str], executor: str) -> None:
    nodes = [ready.ReadyNode(P1, n, "t", 1, 0, 0, t) for n, t in zip((A, B), types, strict=True)]
    (run,) = decide(nodes, frozenset(n.key for n in nodes)).run_requests
    assert len(run.asset_selection or []) == 2
    assert run.tags["video/executor"] == executor
    in_process = run.run_config == {"execution": {"config": {"in_process": {}}}}
    assert in_process == (executor == "in_process")


def test_run_failures_leave_skipped_downstream_pending() -> None:
    ended = [run_failures.EndedRun("r1", "FAILURE", "boom", auto=True, node_ids=(A, B, C))]
    observed = run_failures.Observed(ended=ended, never_started=[
        run_failures.NotLive(B, waiting_on=(A,)), run_failures.NotLive(C)])
    failures, _ = run_failures.decide(run_failures.Cursor(), observed)
    assert [f.node_id for f in failures] == [C]  # B waited on A of the same run: skipped


def test_validation_decide() -> None:
    assert validation.decide([], 10).skip_reason
    d = validation.decide([PipelineValidation(P1, 3, 1, 2), PipelineValidation(P2, 2, 0, 0)], 10)
    assert d.skip_reason is None
    assert d.lines[0] == "validated 2 pipeline(s), 5 node(s): 1 invalid, 2 verdict(s) written"
    assert any(P1 in line for line in d.lines) and not any(P2 in line for line in d.lines)


def _after(nid: str, run_id: str | None, status: str = "completed") -> callbacks.NodeAfter:
    meta = {"process_uuid": "p", "cost": 0.5, **({"dagster_run_id": run_id} if run_id else {})}
    return callbacks.NodeAfter(nid, P1, status, {"uri": "s3://b/k", "size": 3}, meta,
                               "merge-videos")


def test_callbacks_decide_counts_and_runless_materializations() -> None:
    consumed = [
        Consumed("callbacks/a/p.json", A, Applied(A, "completed", "p")),
        Consumed("callbacks/b/p.json", B, Applied(B, "completed", "p")),
        Consumed("callbacks/c/p.json", C, Stale(C, "not current")),
        Consumed("callbacks/x/y.json", None, None, "not JSON"),
        Consumed("callbacks/z/y.json", None, None, "already consumed"),
    ]
    nodes = {A: _after(A, "run-live"), B: _after(B, "run-gone")}
    d = callbacks.decide(consumed, nodes, frozenset({"run-live"}), ALL)
    assert (d.applied, d.stale, d.malformed, d.gone, d.run_waiting) == (2, 1, 1, 1, 1)
    assert [e.asset_key for e in d.asset_events] == [key(P1, B)]
    meta = d.asset_events[0].metadata
    assert meta["dagster/uri"].value == "s3://b/k" and meta["size"].value == 3
    assert meta["cost"].value == 0.5 and meta["process_uuid"].value == "p"


def test_callbacks_decide_skips_keys_not_in_graph() -> None:
    consumed = [Consumed("callbacks/a/p.json", A, Applied(A, "completed", "p"))]
    d = callbacks.decide(consumed, {A: _after(A, None)}, frozenset(), frozenset())
    assert d.asset_events == [] and d.not_in_graph == [key(P1, A)]


def test_reaper_decide_names_the_deadline() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    (reap,) = reaper.decide([reaper.Expired(A, "proc", when)])
    assert reap.message == ("execution exceeded its deadline (2030-01-02T03:04:05+00:00) "
                            "without reporting back")


def test_run_failures_decide() -> None:
    ended = [run_failures.EndedRun("r1", "FAILURE", "boom"),
             run_failures.EndedRun("r2", "CANCELED", "stop", auto=True, node_ids=(B,),
                                   storage_id=2)]
    observed = run_failures.Observed(
        ended=ended, last_failure=7, last_canceled=9,
        running=[run_failures.Running(A, "pa", "r1")],
        never_started=[run_failures.NotLive(B)],
        orphans=[run_failures.Running(C, "pc", "r-unknown"),
                 run_failures.Running("dddddddd-0000-4000-8000-000000000001", "pd", "r-live")],
        orphan_statuses={"r-live": "STARTED"},
        orphan_page_full=False,
    )
    failures, cursor = run_failures.decide(run_failures.Cursor(failure=3), observed)
    by_node = {f.node_id: f for f in failures}
    assert by_node[A].message == "Dagster run r1 FAILURE: boom"
    assert by_node[A].process_uuid == "pa" and by_node[A].error_type == "RunFailed"
    assert by_node[B].process_uuid is None and "r2 CANCELED before the node started" in (
        by_node[B].message)
    assert by_node[C].error_type == "RunLost" and "unknown" in by_node[C].message
    assert len(failures) == 3  # the node of the live run is left alone
    assert (cursor.failure, cursor.canceled) == (7, 9)
    assert run_failures.Cursor.parse(cursor.to_json()) == cursor
    assert run_failures.Cursor.parse("not json") == run_failures.Cursor()


def test_run_failures_cursor_never_goes_back() -> None:
    _, cursor = run_failures.decide(run_failures.Cursor(failure=5, canceled=6),
                                    run_failures.Observed())
    assert (cursor.failure, cursor.canceled) == (5, 6)


def test_sensor_tags_match_the_asset_body() -> None:
    from video_dagster.assets import execute

    assert ready.TRIGGER_TAG == execute.TRIGGER_TAG
    assert execute.is_forced({ready.TRIGGER_TAG: ready.AUTO}) is False
