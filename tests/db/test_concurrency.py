"""Concurrency torture: lifecycle transitions from many threads and processes (DESIGN §5).

Workers fire started/updated/succeeded/failed at the same nodes with current, remembered, stale,
random and missing process ids, and record every result. The invariants are then checked against
the node rows, the audit log (replayed through the pure decision function) and the pipeline
roll-ups. `match_events` and `replay` are reused by test_column_ownership.py.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tests.db.helpers import make_node, make_pipeline
from video_dagster.db import engine as db_engine
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.domain import lifecycle as domain

OPS = ("started", "updated", "succeeded", "failed")
WEIGHTS = (3, 3, 3, 2)
NO_EVENT = "no such node"  # a Stale that never reached a row records no event
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def _pick_process(rng: random.Random, engine: sa.Engine, node: str, seen: list[str]) -> Any:
    """A process id to report with: current (row), remembered, stale, random or none."""
    r = rng.random()
    if r < 0.4:
        with engine.connect() as conn:
            value = conn.execute(
                sa.text("SELECT process_uuid FROM video_production_nodes WHERE id = :id"),
                {"id": node},
            ).scalar()
        if value is not None:
            seen.append(str(value))
        return None if value is None else str(value)
    if r < 0.65 and seen:
        return seen[-1]
    if r < 0.85 and len(seen) > 1:
        return rng.choice(seen[:-1])
    if r < 0.95:
        return str(uuid.uuid4())
    return None


def run_worker(
    url: str, worker: int, nodes: list[str], n_ops: int, seed: int, barrier: Any = None
) -> list[dict[str, Any]]:
    """Fire `n_ops` random transitions at `nodes`; return one record per call."""
    engine = db_engine.get_engine(url)
    lc = Lifecycle(engine)
    rng = random.Random(seed)
    seen: dict[str, list[str]] = defaultdict(list)
    calls = []
    if barrier is not None:
        barrier.wait(timeout=120)
    for i in range(n_ops):
        node = rng.choice(nodes)
        op = rng.choices(OPS, WEIGHTS)[0]
        token = f"w{worker}_{i}"
        call = {"worker": worker, "seq": i, "node": node, "op": op, "token": token}
        process = None if op == "started" else _pick_process(rng, engine, node, seen[node])
        if process is None and op in ("updated", "succeeded"):
            process = str(uuid.uuid4())  # these always name a process
        call["process"] = process
        call["cost"] = rng.randint(1, 12) / 4 if op == "succeeded" else None
        if op == "started":
            res = lc.started(node, run_id=token)
        elif op == "updated":
            res = lc.updated(node, {f"u_{token}": i}, process)
        elif op == "succeeded":
            out = {"type": "text", "uri": token}
            res = lc.succeeded(node, out, process, call["cost"])
        else:
            res = lc.failed(node, token, process)
        call.update(
            applied=res.applied,
            reason=getattr(res, "reason", None),
            result_process=getattr(res, "process_uuid", None),
        )
        if op == "started" and res.applied:
            seen[node].append(res.process_uuid)
        calls.append(call)
    return calls


def _process_main(queue: Any, *args: Any) -> None:
    try:
        queue.put(run_worker(*args))
    except BaseException as exc:  # report it instead of leaving everyone waiting
        args[-1].abort()
        queue.put(repr(exc))


def run_threads(url: str, nodes: list[str], workers: int, n_ops: int) -> list[dict[str, Any]]:
    """`workers` threads sharing one engine."""
    barrier = threading.Barrier(workers)
    with ThreadPoolExecutor(workers) as pool:
        fs = [pool.submit(run_worker, url, w, nodes, n_ops, w, barrier) for w in range(workers)]
        return [c for f in fs for c in f.result(timeout=120)]


def run_processes(url: str, nodes: list[str], workers: int, n_ops: int) -> list[dict[str, Any]]:
    """`workers` spawned processes, each with its own engine."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(queue, url, w, nodes, n_ops, 99 + w, barrier))
             for w in range(workers)]
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    errors = [r for r in results if isinstance(r, str)]
    assert not errors, errors
    return [c for r in results for c in r]


# ---- invariant machinery (shared with test_column_ownership.py) -------------------------------


def load(engine: sa.Engine) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Every node row by id, and every node's audit events in id order."""
    with engine.connect() as conn:
        rows = {str(r.id): r for r in conn.execute(sa.text("SELECT * FROM video_production_nodes"))}
        evs: dict[str, list[Any]] = defaultdict(list)
        for e in conn.execute(sa.text("SELECT * FROM video_production_node_events ORDER BY id")):
            evs[str(e.node_id)].append(e)
    return rows, evs


def _applied_key(e: Any) -> str:
    if e.event == "started":
        return str(e.process_uuid)
    return e.detail["keys"][0] if e.event == "updated" else e.detail[
        "output_uri" if e.event == "succeeded" else "error"]


def _call_key(c: dict[str, Any]) -> str:
    if c["op"] == "started":
        return c["result_process"]
    return f"u_{c['token']}" if c["op"] == "updated" else c["token"]


def match_events(calls: list[dict[str, Any]], evs: dict[str, list[Any]]) -> list[Any]:
    """The audit event of each call (None for calls that never reached a row).

    Applied calls match an `applied=true` event by their unique payload, Stale calls an
    `applied=false` event with the same node, event, process id and reason. Every lifecycle event
    must be claimed by exactly one call.
    """
    applied: dict[tuple[str, str, str], Any] = {}
    stale: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for node, node_events in evs.items():
        for e in node_events:
            if e.event == "structure_changed":
                continue
            if e.applied:
                key = (node, e.event, _applied_key(e))
                assert key not in applied, f"duplicate applied event {key}"
                applied[key] = e
            else:
                pid = None if e.event == "started" else e.process_uuid and str(e.process_uuid)
                stale[(node, e.event, pid, e.detail["reason"])].append(e)
    matched = []
    for c in calls:
        if c["applied"]:
            event = applied.pop((c["node"], c["op"], _call_key(c)), None)
            assert event is not None, f"Applied call without an applied event: {c}"
        elif c["reason"] == NO_EVENT:
            event = None
        else:
            pid = None if c["op"] == "started" else c["process"]
            pool = stale.get((c["node"], c["op"], pid, c["reason"]))
            assert pool, f"Stale call without a matching applied=false event: {c}"
            event = pool.pop(0)
        matched.append(event)
    assert not applied, f"applied events nobody was told about: {list(applied)[:3]}"
    assert not any(stale.values()), "stale events nobody was told about"
    for worker in {c["worker"] for c in calls}:  # a worker's calls are sequential
        ids = [e.id for c, e in zip(calls, matched, strict=True)
               if c["worker"] == worker and c["applied"]]
        assert ids == sorted(ids), f"worker {worker}: applied events out of call order"
    return matched


def _command(e: Any) -> domain.Command:
    p = None if e.process_uuid is None else str(e.process_uuid)
    if e.event == "started":
        return domain.Start(p or "", None, EPOCH, EPOCH)
    if e.event == "updated":
        return domain.Update(p or "", {})
    if e.event == "succeeded":
        return domain.Succeed(p or "", {}, EPOCH)
    return domain.Fail(p, "", EPOCH)


def replay(node_events: list[Any]) -> dict[str, Any]:
    """Replay a node's audit log from `pending`; each event's `applied` must be what the pure
    decision says in the replayed state. Returns the replayed bookkeeping columns."""
    st: dict[str, Any] = {"status": "pending", "process_uuid": None, "structure_version": 1,
                          "run_structure_version": None, "attempt": 0, "failures": 0}
    for e in node_events:
        assert e.from_status == st["status"], (e, st)
        if e.event == "structure_changed":
            assert e.applied and e.structure_version == st["structure_version"] + 1, (e, st)
            st.update(status="pending", process_uuid=None, run_structure_version=None, failures=0,
                      structure_version=e.structure_version)
            continue
        assert e.structure_version == st["structure_version"], (e, st)
        state = domain.NodeState(st["status"], st["process_uuid"], st["structure_version"],
                                 st["run_structure_version"])
        decision = domain.decide(state, _command(e))
        assert decision.applied == e.applied, (e, st, decision.stale_reason)
        if decision.write is None:
            assert e.to_status == st["status"]
            continue
        assert e.to_status == decision.write.status, (e, st)
        st.update(status=decision.write.status, process_uuid=decision.write.process_uuid)
        if decision.write.started:
            st.update(run_structure_version=st["structure_version"], attempt=st["attempt"] + 1)
        st["failures"] += decision.write.failed
    return st


def check_row_matches_replay(row: Any, node_events: list[Any]) -> None:
    """The node's bookkeeping columns are exactly what its audit log replays to."""
    st = replay(node_events)
    assert row.status == st["status"], (row.id, row.status, st)
    assert (None if row.process_uuid is None else str(row.process_uuid)) == st["process_uuid"]
    for col in ("structure_version", "run_structure_version", "failures"):
        assert getattr(row, col) == st[col], (row.id, col, getattr(row, col), st)
    assert (row.deadline_at is not None) == (row.status == "in_progress"), row.id


def check_rollups(engine: sa.Engine, pipelines: list[str]) -> None:
    """Each pipeline's progress and totalCost equal a recount from its node rows."""
    with engine.connect() as conn:
        for pid in pipelines:
            meta = conn.execute(sa.text("SELECT metadata FROM video_production_pipelines "
                                        "WHERE id = :id"), {"id": pid}).scalar_one()
            rows = conn.execute(sa.text("SELECT status, metadata FROM video_production_nodes "
                                        "WHERE pipeline_id = :id"), {"id": pid}).all()
            counts = {s: sum(r.status == s for r in rows) for s in domain.STATUSES}
            assert meta["progress"] == {**counts, "total": len(rows)}, pid
            cost = sum(Decimal(str((r.metadata or {}).get("cost", 0))) for r in rows)
            assert Decimal(str(meta["totalCost"])) == cost, pid


# ---- the torture tests ------------------------------------------------------------------------


def _setup(engine: sa.Engine) -> tuple[list[str], list[str]]:
    pipelines = [make_pipeline(engine, f"torture {i}") for i in range(3)]
    nodes = [make_node(engine, pipelines[i % 3], title=f"n{i}") for i in range(20)]
    return pipelines, nodes


def _check_torture(engine: sa.Engine, pipelines: list[str], calls: list[dict[str, Any]]) -> None:
    rows, evs = load(engine)
    matched = match_events(calls, evs)
    assert sum(len(v) for v in evs.values()) == len(calls)  # one audit event per call
    event_id = {id(c): e.id for c, e in zip(calls, matched, strict=True) if c["applied"]}
    for nid, row in rows.items():
        check_row_matches_replay(row, evs[nid])
        applied = sorted((c for c in calls if c["node"] == nid and c["applied"]),
                         key=lambda c: event_id[id(c)])  # in commit order
        of = {op: [c for c in applied if c["op"] == op] for op in OPS}
        assert row.attempt == len(of["started"]) and row.failures == len(of["failed"])
        meta = row.metadata or {}
        succeeded = of["succeeded"][-1] if of["succeeded"] else None
        assert row.output == (succeeded and {"type": "text", "uri": succeeded["token"]})
        assert meta.get("cost") == (succeeded and succeeded["cost"])
        if row.status == "completed":
            assert applied[-1] is succeeded and row.process_uuid is not None
            assert succeeded["result_process"] == str(row.process_uuid) == meta["process_uuid"]
            assert meta["stage"] == "completed" and "error" not in meta
        elif row.status == "in_progress":
            assert applied[-1]["op"] in ("started", "updated")
            assert str(row.process_uuid) == of["started"][-1]["result_process"]
            assert meta["stage"] == "started" and "error" not in meta
        elif row.status == "failed":
            assert applied[-1]["op"] == "failed" and meta["error"] == applied[-1]["token"]
        else:
            assert not applied and row.metadata is None
        keys = {k for k in meta if k.startswith("u_")}
        assert keys == {f"u_{c['token']}" for c in of["updated"]}, nid  # none lost, none leaked
    check_rollups(engine, pipelines)
    applied_ops = {op: sum(c["applied"] and c["op"] == op for c in calls) for op in OPS}
    assert all(applied_ops.values()), applied_ops  # the mix really exercised every transition
    assert sum(not c["applied"] for c in calls) > len(calls) // 4


def test_torture_threads(engine, db_url):
    pipelines, nodes = _setup(engine)
    calls = run_threads(db_url, nodes, workers=8, n_ops=190)
    _check_torture(engine, pipelines, calls)


def test_torture_processes(engine, db_url):
    pipelines, nodes = _setup(engine)
    calls = run_processes(db_url, nodes, workers=4, n_ops=300)
    _check_torture(engine, pipelines, calls)
