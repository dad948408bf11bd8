"""The editor never loses a write to a deadlock with our locks (issue 7.1, DESIGN §5).

Editor transactions of every shape (insert, insert + update, updates of several nodes in random
order, delete, pipeline-row update before or after node updates) run without any retry, each
pausing between its statements so that it holds its locks while our side works, against
lifecycle transitions, validation passes and asset-body validation on the same pipeline. A
deadlock that aborts an editor transaction is a lost editor write: there must be none.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tests.db import test_concurrency as tc
from tests.db.helpers import make_node, make_pipeline
from video_dagster.assets import execute
from video_dagster.db import validation
from video_dagster.db.lifecycle import Lifecycle

SECONDS = 4.0
SET_CONFIG = ("UPDATE video_production_nodes SET config = config || CAST(:patch AS jsonb) "
              "WHERE id = :id")
INSERT = ("INSERT INTO video_production_nodes (id, pipeline_id, title, type, asset) "
          "VALUES (:id, :pid, :title, 'asset', '{\"content\": \"x\"}')")


class Editor:
    """One editor connection: every shape of transaction, never retried, every write recorded."""

    def __init__(self, engine: sa.Engine, pid: str, nodes: list[str], seed: int,
                 writes_pipeline: bool) -> None:
        self.engine, self.pid, self.nodes = engine, pid, nodes
        self.rng = random.Random(seed)
        self.writes_pipeline = writes_pipeline  # one editor per pipeline row: no editor-editor
        self.errors: Counter[str] = Counter()   # deadlocks between two editors are not ours
        self.committed = 0
        self.config: dict[tuple[str, str], str] = {}
        self.inserted: set[str] = set()
        self.deleted: set[str] = set()
        self.title: str | None = None
        self.tag = f"e{seed}"

    def pause(self) -> None:
        time.sleep(self.rng.uniform(0.001, 0.02))

    def set_config(self, conn: sa.Connection, node: str, i: int, staged: dict[Any, str]) -> None:
        key = f"{self.tag}_{i}_{node[:4]}"
        conn.execute(sa.text(SET_CONFIG), {"id": node, "patch": json.dumps({key: str(i)})})
        staged[(node, key)] = str(i)

    def transaction(self, i: int) -> None:
        shapes = ["insert_update", "several", "delete", "insert"]
        if self.writes_pipeline:
            shapes += ["pipeline_then_nodes", "nodes_then_pipeline"]
        shape = self.rng.choice(shapes)
        staged: dict[Any, str] = {}
        new_ids: set[str] = set()
        gone: set[str] = set()
        title = None
        with self.engine.connect() as conn:
            try:
                if shape in ("insert", "insert_update"):
                    nid = str(uuid.uuid4())
                    conn.execute(sa.text(INSERT), {"id": nid, "pid": self.pid, "title": nid})
                    new_ids.add(nid)
                    self.pause()
                    if shape == "insert_update":
                        self.set_config(conn, self.rng.choice(self.nodes), i, staged)
                elif shape == "several":
                    for node in self.rng.sample(self.nodes, 3):
                        self.set_config(conn, node, i, staged)
                        self.pause()
                elif shape == "delete":
                    mine = sorted(self.inserted - self.deleted)
                    if mine:
                        victim = self.rng.choice(mine)
                        conn.execute(sa.text("DELETE FROM video_production_nodes WHERE id = :id"),
                                     {"id": victim})
                        gone.add(victim)
                    self.pause()
                    self.set_config(conn, self.rng.choice(self.nodes), i, staged)
                else:
                    title = f"{self.tag} title {i}"
                    update_pipeline = sa.text(
                        "UPDATE video_production_pipelines SET title = :t, "
                        "config = config || CAST(:c AS jsonb) WHERE id = :pid")
                    params = {"t": title, "c": json.dumps({self.tag: i}), "pid": self.pid}
                    if shape == "pipeline_then_nodes":
                        conn.execute(update_pipeline, params)
                        self.pause()
                    for node in self.rng.sample(self.nodes, 2):
                        self.set_config(conn, node, i, staged)
                        self.pause()
                    if shape == "nodes_then_pipeline":
                        conn.execute(update_pipeline, params)
                conn.commit()
            except DBAPIError as exc:
                self.errors[getattr(exc.orig, "sqlstate", None) or type(exc.orig).__name__] += 1
                return
        self.committed += 1
        self.config.update(staged)
        self.inserted |= new_ids
        self.deleted |= gone
        self.title = title or self.title

    def run(self, until: float) -> None:
        i = 0
        while time.monotonic() < until:
            self.transaction(i)
            i += 1


def lifecycle_worker(engine: sa.Engine, nodes: list[str], seed: int, until: float) -> int:
    """Start and end executions on the shared nodes; returns transitions applied."""
    lc, rng, applied = Lifecycle(engine), random.Random(seed), 0
    while time.monotonic() < until:
        node = rng.choice(nodes)
        res = lc.started(node, run_id=f"r{seed}")
        applied += res.applied
        if res.applied:
            end = lc.succeeded if rng.random() < 0.6 else lc.failed
            arg = {"type": "text"} if end == lc.succeeded else "boom"
            applied += end(node, arg, res.process_uuid).applied  # type: ignore[arg-type]
    return applied


def validation_worker(engine: sa.Engine, pid: str, nodes: list[str], until: float
                      ) -> tuple[int, int]:
    """The validation sensor's pass and the asset body's check, over and over: (passes, aborted)."""
    passes, aborted, rng = 0, 0, random.Random(5)
    while time.monotonic() < until:
        try:
            validation.validate_pipelines(engine, [pid])
            execute._read(engine, rng.choice(nodes))  # what the asset body checks first
            passes += 1
        except DBAPIError:
            aborted += 1
    return passes, aborted


def test_no_editor_transaction_is_aborted_by_a_deadlock(engine):
    pid = make_pipeline(engine, "deadlocks")
    nodes = [make_node(engine, pid, title=f"n{i}") for i in range(12)]
    editors = [Editor(engine, pid, nodes[:6], 1, writes_pipeline=True),
               Editor(engine, pid, nodes[6:], 2, writes_pipeline=False)]
    until = time.monotonic() + SECONDS
    results: dict[str, Any] = {}

    def go(name: str, fn: Any, *args: Any) -> threading.Thread:
        t = threading.Thread(target=lambda: results.__setitem__(name, fn(*args)), daemon=True)
        t.start()
        return t

    threads = [go(f"editor{i}", e.run, until) for i, e in enumerate(editors)]
    threads += [go(f"lifecycle{i}", lifecycle_worker, engine, nodes, i, until) for i in range(3)]
    threads.append(go("validation", validation_worker, engine, pid, nodes, until))
    for t in threads:
        t.join(timeout=SECONDS + 60)
    assert set(results) == {"editor0", "editor1", "lifecycle0", "lifecycle1", "lifecycle2",
                            "validation"}

    errors = sum((e.errors for e in editors), Counter())
    committed = sum(e.committed for e in editors)
    applied = sum(results[f"lifecycle{i}"] for i in range(3))
    print(f"editor transactions: {committed} committed, aborted: {dict(errors)} "
          f"in {SECONDS:g} s; lifecycle applied {applied}, "
          f"validation passes (done, aborted) {results['validation']}")
    assert not errors, f"editor transactions aborted: {dict(errors)}"
    assert results["validation"][1] == 0, "validation passes aborted"
    assert committed > 50 and applied > 50

    # Not one committed editor write is missing.
    rows, _ = tc.load(engine)
    for e in editors:
        for (node, key), value in e.config.items():
            assert rows[node].config[key] == value, (node, key)
        assert e.inserted - e.deleted <= set(rows) and not e.deleted & set(rows)
    with engine.connect() as conn:
        title = conn.execute(sa.text("SELECT title FROM video_production_pipelines "
                                     "WHERE id = :id"), {"id": pid}).scalar_one()
    assert title == (editors[0].title or "deadlocks")

    # Once settled (the validation pass the sensor runs after editor writes), progress is exact.
    validation.validate_changed(engine)
    tc.check_rollups(engine, [pid])


def test_a_transition_never_holds_its_node_while_waiting_for_the_pipeline_row(engine):
    """The editor holds the pipeline row (a save that updated it first). The transition commits
    and releases its node row at once, the editor can then write that node in the same
    transaction, and progress is folded as soon as the editor commits."""
    pid = make_pipeline(engine, "busy pipeline")
    nid = make_node(engine, pid)
    validation.validate_changed(engine)
    with engine.connect() as editor, ThreadPoolExecutor(1) as pool:
        editor.execute(sa.text("UPDATE video_production_pipelines SET title = 'saving' "
                               "WHERE id = :id"), {"id": pid})
        started = pool.submit(Lifecycle(engine).started, nid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the transition is committed, the fold waits
            with engine.connect() as conn:
                status = conn.execute(sa.text("SELECT status FROM video_production_nodes "
                                              "WHERE id = :id"), {"id": nid}).scalar_one()
            if status == "in_progress":
                break
            time.sleep(0.01)
        assert status == "in_progress" and not started.done()
        editor.execute(sa.text(SET_CONFIG), {"id": nid, "patch": '{"k": "editor"}'})  # no wait
        editor.commit()
        assert started.result(10).applied
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT config, status FROM video_production_nodes "
                                   "WHERE id = :id"), {"id": nid}).one()
    assert row.config["k"] == "editor" and row.status == "pending"  # the edit reset it
    validation.validate_changed(engine)
    tc.check_rollups(engine, [pid])
