"""The transition the database runs equals the pure `decide`, on every case (issue 12.3).

`video_lifecycle_apply` (migration 0002) decides with `video_lifecycle_stale_reason`, the SQL
twin of `domain.lifecycle.stale_reason`. Every node state (status x current process x structure
versions) meets every command shape (start, update/succeed/fail naming the current, another or
no process): the row, the result and the audit event must be exactly what `decide` says.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tests.db import test_concurrency as tc
from tests.db.helpers import events, make_node, make_pipeline, node_row
from video_dagster.db.lifecycle import Applied, Lifecycle, Stale
from video_dagster.domain import lifecycle as domain

A, B, NEW = ("aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002",
             "cccccccc-0000-4000-8000-000000000003")
NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
OLD_DEADLINE = NOW + timedelta(hours=5)
BASE_META = {"cost": 0.5, "error": "old", "job_id": "j", "keep": 1}
STATES = list(itertools.product(domain.STATUSES, (None, A), (1, 0, None)))
COMMANDS: list[domain.Command] = [
    domain.Start(NEW, "run-1", NOW, NOW + timedelta(minutes=30)),
    domain.Start(NEW, None, NOW, NOW + timedelta(minutes=1)),
    *(domain.Update(p, {"stage": "rendering", "x": [1]}) for p in (A, B)),
    *(domain.Succeed(p, {"type": "text", "uri": "u"}, NOW, cost) for p in (A, B)
      for cost in (0.25, None)),
    *(domain.Fail(p, "boom", NOW, kind) for p in (A, B, None) for kind in ("E", None)),
]
SET_STATE = sa.text(
    "UPDATE video_production_nodes SET status = :status, process_uuid = CAST(:process AS uuid), "
    "run_structure_version = :rsv, metadata = CAST(:meta AS jsonb), output = '{\"old\": 1}', "
    "attempt = 0, failures = 0, deadline_at = :deadline WHERE id = :id")


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def test_sql_transition_equals_decide_on_every_case(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid)
    lc = Lifecycle(engine)
    cases = 0
    for (status, process, rsv), command in itertools.product(STATES, COMMANDS):
        with engine.begin() as conn:
            conn.execute(SET_STATE, {"id": nid, "status": status, "process": process, "rsv": rsv,
                                     "meta": json.dumps(BASE_META), "deadline": OLD_DEADLINE})
            # The state was set behind the roll-up's back: repair it, so that the check below
            # sees what the transition's own delta fold made of it.
            conn.execute(sa.text("SELECT video_progress_recount(CAST(:p AS uuid))"), {"p": pid})
        state = domain.NodeState(status, process, 1, rsv)
        decision = domain.decide(state, command)
        seen = len(events(engine, nid))
        result = lc.apply(nid, command)
        row, new_events = node_row(engine, nid), events(engine, nid)[seen:]
        case = (state, command)
        assert len(new_events) == 1, case
        event = new_events[0]
        assert event.event == domain.event_name(command) and event.from_status == status, case
        assert event.applied == decision.applied == result.applied, (case, result)
        if decision.write is None:
            assert isinstance(result, Stale) and result.reason == decision.stale_reason, case
            assert event.detail == {"reason": decision.stale_reason}, case
            assert (row.status, row.metadata, row.output, row.attempt, row.failures) == (
                status, BASE_META, {"old": 1}, 0, 0), case
            assert row.deadline_at == OLD_DEADLINE, case
        else:
            write = decision.write
            assert isinstance(result, Applied), case
            assert (result.status, result.process_uuid) == (write.status, write.process_uuid)
            assert row.status == event.to_status == write.status, case
            assert (None if row.process_uuid is None else str(row.process_uuid)) == \
                write.process_uuid, case
            meta = {k: v for k, v in BASE_META.items() if k not in write.metadata_remove}
            assert row.metadata == _json({**meta, **write.metadata_patch}), case
            assert row.output == (_json(write.output) if write.set_output else {"old": 1}), case
            assert row.attempt == int(write.started) and row.failures == int(write.failed)
            assert row.run_structure_version == (1 if write.started else rsv), case
            assert row.deadline_at == (OLD_DEADLINE if write.keep_deadline else write.deadline)
        tc.check_rollups(engine, [pid])
        cases += 1
    assert cases == len(STATES) * len(COMMANDS) == 24 * 14


def test_sql_gate_equals_stale_reason_on_every_case(engine):
    """The gate alone, with an extra current process and versions on both sides."""
    processes = (None, A, B)
    kinds = ("started", "updated", "succeeded", "failed")
    rows = []
    for status, process, sv, rsv, kind, cmd in itertools.product(
            domain.STATUSES, processes, (1, 2), (1, 2, None), kinds, processes):
        if kind in ("updated", "succeeded") and cmd is None:
            continue  # these always name a process
        command: domain.Command = {
            "started": domain.Start(cmd or NEW, None, NOW, NOW),
            "updated": domain.Update(cmd or "", {}),
            "succeeded": domain.Succeed(cmd or "", {}, NOW),
            "failed": domain.Fail(cmd, "", NOW),
        }[kind]
        expected = domain.stale_reason(domain.NodeState(status, process, sv, rsv), command)
        rows.append((status, process, sv, rsv, kind, cmd or (NEW if kind == "started" else None),
                     expected))
    with engine.connect() as conn:
        got = conn.execute(sa.text(
            "SELECT video_lifecycle_stale_reason(s, CAST(p AS uuid), sv, rsv, k, CAST(c AS uuid))"
            " FROM unnest(CAST(:s AS text[]), CAST(:p AS text[]), CAST(:sv AS bigint[]),"
            " CAST(:rsv AS bigint[]), CAST(:k AS text[]), CAST(:c AS text[]))"
            " WITH ORDINALITY AS t(s, p, sv, rsv, k, c, i) ORDER BY i"),
            {key: [r[i] for r in rows] for i, key in enumerate(("s", "p", "sv", "rsv", "k", "c"))},
        ).scalars().all()
    mismatches = [(r, g) for r, g in zip(rows, got, strict=True) if r[-1] != g]
    assert not mismatches, mismatches[:5]
    assert len(rows) > 400


def test_gate_is_inlined_into_the_transition(engine):
    """The planner inlines the gate (migration 0004). An IMMUTABLE declaration over a STABLE
    body (format()) is never inlined: the body is parsed again on every transition, which cost
    a third of the server's CPU per transition (bench/lifecycle.py)."""
    with engine.connect() as conn:
        plan = "\n".join(conn.execute(sa.text(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT video_lifecycle_stale_reason(status,"
            " process_uuid, structure_version, run_structure_version, 'updated', NULL)"
            " FROM video_production_nodes")).scalars())
    assert "CASE" in plan and "video_lifecycle_stale_reason" not in plan, plan
