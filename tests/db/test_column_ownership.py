"""Editor writes and lifecycle writes on the same rows at once: neither loses a write (DESIGN §2).

Editor threads write the way the Next.js app does (single partial-jsonb statements, raw inserts;
deletes through `editing.destroy_node`), lifecycle threads run transitions on the same nodes.
A real structure change resets the node to pending and detaches its execution, by design, so the
contract checked is: editor columns are never lost, metadata merged by Applied updates is never
lost, the audit log replays to every row, deleted ids are referenced nowhere and each real
structure change bumps the structure version exactly once.
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

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tests.db import test_concurrency as tc
from tests.db.helpers import make_node, make_pipeline, node_row, pipeline_meta
from video_dagster.db import editing, validation
from video_dagster.db.lifecycle import Applied, Lifecycle, Stale

SET_CONFIG = "config = jsonb_set(config, CAST(:path AS text[]), to_jsonb(CAST(:v AS text)))"
REVERSE_SEGMENTS = """inputs = jsonb_set(inputs, '{segments}', (
    SELECT coalesce(jsonb_agg(e ORDER BY n DESC), '[]'::jsonb)
    FROM jsonb_array_elements(inputs -> 'segments') WITH ORDINALITY AS s(e, n)))"""
REFERENCES = "jsonb_path_exists(inputs, '$.** ? (@ == $nid)', jsonb_build_object('nid', :id))"


def _retry(fn: Any) -> Any:
    """Run an editor transaction, retrying deadlocks the way a web app retries a request."""
    for attempt in range(10):
        try:
            return fn()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001") or attempt == 9:
                raise
            time.sleep(0.005 * (attempt + 1))
    raise AssertionError("unreachable")


def _edit(engine: sa.Engine, node: str, set_sql: str, **params: Any) -> Any:
    """One autocommitted editor UPDATE; the new row, or None when the node is gone."""
    def run() -> Any:
        with engine.begin() as conn:
            return conn.execute(
                sa.text(f"UPDATE video_production_nodes SET {set_sql} WHERE id = :id "
                        "RETURNING inputs, structure_version, status, process_uuid"),
                {"id": node, **params},
            ).first()
    return _retry(run)


class World:
    """The graph under test and everything the editor side did to it."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.pid = make_pipeline(engine, "ownership")
        mk = lambda title, **kw: make_node(engine, self.pid, title=title, **kw)  # noqa: E731
        self.keep = [mk(f"A{i}") for i in range(6)]  # never deleted
        self.doomed = [mk(f"D{i}") for i in range(4)]  # deleted during the run
        self.merges = [
            mk(f"M{i}", type="merge-videos", config={"provider": "ffmpeg"},
               inputs={"segments": [self.keep[i], self.doomed[i], self.keep[i + 1],
                                    self.doomed[(i + 1) % 4]]}) for i in range(4)
        ]
        self.compose = mk("C", type="compose-video", config={"provider": "ffmpeg", "rounded": True},
                          inputs={"background": self.doomed[0], "overlay": self.keep[0]})
        self.initial_segments = {m: self._segments(m) for m in self.merges}
        self.lock = threading.Lock()
        self.config: list[tuple[str, str, str]] = []  # (node, key, value)
        self.titles: dict[str, str] = {}
        self.reorders: Counter[str] = Counter()
        self.real_changes: Counter[str] = Counter()
        self.inserted: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []

    def _segments(self, node: str) -> list[str]:
        return node_row(self.engine, node).inputs["segments"]

    @property
    def targets(self) -> list[str]:
        return [*self.keep, *self.doomed, *self.merges, self.compose]

    def editor(self, t: int, n_ops: int) -> None:
        rng = random.Random(t)
        own_titles = self.targets[t::3]
        for i in range(n_ops):
            kind = rng.choice(("config", "config", "reorder", "title", "insert"))
            if kind == "config":
                node, key, value = rng.choice(self.targets), f"k_{t}_{i}", f"v{t}.{i}"
                row = _edit(self.engine, node, SET_CONFIG, path=[key], v=value)
                with self.lock:
                    if row is not None:
                        self.config.append((node, key, value))
                        self.real_changes[node] += 1
            elif kind == "reorder":
                node = rng.choice(self.merges)
                row = _edit(self.engine, node, REVERSE_SEGMENTS)
                with self.lock:
                    self.reorders[node] += 1
                    self.real_changes[node] += len(row.inputs["segments"]) >= 2
            elif kind == "title":
                node = rng.choice(own_titles)  # one writer per node's title: the last one wins
                _edit(self.engine, node, "title = :title", title=f"T{t}.{i}")
                self.titles[node] = f"T{t}.{i}"
            else:
                nid = str(uuid.uuid4())
                fields = {"inputs": {"segments": rng.sample(self.keep, 2)},
                          "config": {"provider": "ffmpeg", f"k_{t}_{i}": "new"}}
                with self.engine.begin() as conn:
                    conn.execute(sa.text(
                        "INSERT INTO video_production_nodes (id, pipeline_id, title, type, inputs,"
                        " config) VALUES (:id, :pid, :title, 'merge-videos',"
                        " CAST(:inputs AS jsonb), CAST(:config AS jsonb))"),
                        {"id": nid, "pid": self.pid, "title": f"new {t}.{i}",
                         **{k: json.dumps(v) for k, v in fields.items()}})
                with self.lock:
                    self.inserted[nid] = fields

    def deleter(self) -> None:
        for node in self.doomed:
            time.sleep(0.4)

            def run(node: str = node) -> list[str]:
                with self.engine.begin() as conn:
                    referencing = conn.execute(sa.text(
                        "SELECT id::text FROM video_production_nodes WHERE pipeline_id = :pid"
                        f" AND id <> :id AND {REFERENCES} ORDER BY id FOR UPDATE"),
                        {"pid": self.pid, "id": node}).scalars().all()
                    editing.destroy_node(conn, node)
                return list(referencing)
            for sibling in _retry(run):
                with self.lock:
                    self.real_changes[sibling] += 1  # the reference cleanup is a real change
            self.deleted.append(node)


def test_editor_and_lifecycle_writes_are_never_lost(engine, db_url):
    w = World(engine)
    with ThreadPoolExecutor(7) as pool:
        futures = [pool.submit(w.editor, t, 70) for t in range(3)]
        futures.append(pool.submit(w.deleter))
        futures += [pool.submit(tc.run_worker, db_url, t, w.targets, 250, 7000 + t)
                    for t in range(3)]
        results = [f.result(timeout=120) for f in futures]
    calls = [c for r in results[4:] for c in r]
    rows, evs = tc.load(engine)

    # Editor columns: every write present, deleted nodes gone and referenced nowhere.
    assert set(w.deleted) == set(w.doomed) and not set(w.deleted) & set(rows)
    for node, key, value in w.config:
        assert node in w.deleted or rows[node].config[key] == value, (node, key)
    for node, title in w.titles.items():
        assert node in w.deleted or rows[node].title == title
    for nid, fields in w.inserted.items():
        assert rows[nid].inputs == fields["inputs"] and rows[nid].config == fields["config"]
    for node, initial in w.initial_segments.items():
        survivors = [s for s in initial if s not in w.deleted]
        assert rows[node].inputs["segments"] == (
            survivors[::-1] if w.reorders[node] % 2 else survivors)
    assert "background" not in rows[w.compose].inputs  # a single slot is removed entirely
    for row in rows.values():
        assert not any(d in json.dumps(row.inputs) for d in w.deleted), row.id

    # Structure versions: exactly one bump per real change, each reset the node to pending.
    for nid, row in rows.items():
        changes = [e for e in evs[nid] if e.event == "structure_changed"]
        assert row.structure_version == 1 + w.real_changes[nid] == 1 + len(changes), nid
        assert all(e.to_status == "pending" for e in changes)

    # Lifecycle: every result has its event, every row replays, no Applied metadata lost.
    matched = tc.match_events(calls, evs)
    assert sum(c["applied"] for c in calls) > 50 and sum(w.real_changes.values()) > 50
    for nid, row in rows.items():
        tc.check_row_matches_replay(row, evs[nid])
        mine = [c for c in calls if c["node"] == nid and c["applied"]]
        assert row.attempt == sum(c["op"] == "started" for c in mine)
        updated = {f"u_{c['token']}" for c in mine if c["op"] == "updated"}
        assert updated <= set(row.metadata or {}), nid
    for c, e in zip(calls, matched, strict=True):
        assert (e is None) == (c["reason"] == tc.NO_EVENT)
        assert e is not None or c["node"] in w.deleted

    # Progress is healed by the validation pass the sensor runs after editor writes.
    validation.validate_changed(engine)
    tc.check_rollups(engine, [w.pid])


def _wait_for_lock_waiter(engine: sa.Engine, count: int = 1) -> None:
    """Wait until `count` sessions of this database are waiting for a lock."""
    deadline = time.monotonic() + 10
    # Autocommit: pg_stat_activity is snapshotted once per transaction.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            if waiting >= count:
                return
            time.sleep(0.01)
    raise AssertionError("nobody ever waited for the row lock")


PAUSE_KEY = 7_100_001
PAUSE_SUCCEEDED = f"""
CREATE FUNCTION test_pause_succeeded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({PAUSE_KEY});
    RETURN NEW;
END $$;
CREATE TRIGGER test_pause_succeeded BEFORE INSERT ON video_production_node_events
    FOR EACH ROW WHEN (NEW.event = 'succeeded') EXECUTE FUNCTION test_pause_succeeded();
"""


@pytest.mark.parametrize("edit", ["config", "title"])
def test_editor_write_queued_behind_the_lifecycle_lock_is_kept(engine, edit):
    """The lifecycle holds the row inside its transition (paused before its audit row, through
    a test-only trigger waiting for an advisory lock); the editor's statement queues behind the
    row lock, commits after the lifecycle's commit, and both writes are in the row."""
    nid = make_node(engine, make_pipeline(engine))
    lc = Lifecycle(engine)
    process = lc.started(nid).process_uuid
    with engine.begin() as conn:
        conn.execute(sa.text(PAUSE_SUCCEEDED))

    def editor_write() -> None:
        set_sql = SET_CONFIG if edit == "config" else "title = :v"
        with engine.begin() as editor:
            editor.execute(sa.text(f"UPDATE video_production_nodes SET {set_sql} WHERE id = :id"),
                           {"id": nid, "path": ["k_editor"], "v": "mine"})

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as gate, \
            ThreadPoolExecutor(2) as pool:
        gate.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": PAUSE_KEY})
        try:
            succeeded = pool.submit(lc.succeeded, nid, {"type": "text"}, process, 1.0)
            _wait_for_lock_waiter(engine)  # lifecycle: row locked, paused inside its transition
            edited = pool.submit(editor_write)
            _wait_for_lock_waiter(engine, 2)  # the editor cannot slip in between
        finally:
            gate.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PAUSE_KEY})
        assert isinstance(succeeded.result(10), Applied)
        edited.result(10)
    row = node_row(engine, nid)
    assert row.output == {"type": "text"} and row.metadata["cost"] == 1.0
    assert row.metadata["process_uuid"] == process
    if edit == "config":  # a structure change: kept, and it resets the node (by design)
        assert row.config["k_editor"] == "mine"
        assert row.status == "pending" and row.structure_version == 2
    else:
        assert row.title == "mine" and row.status == "completed" and row.structure_version == 1


def test_lifecycle_queued_behind_an_open_editor_transaction_keeps_the_edit(engine):
    """The editor holds the row first; the lifecycle decides on the committed edit."""
    nid = make_node(engine, make_pipeline(engine))
    lc = Lifecycle(engine)
    process = lc.started(nid).process_uuid
    with engine.connect() as editor, ThreadPoolExecutor(1) as pool:
        editor.execute(sa.text(f"UPDATE video_production_nodes SET {SET_CONFIG} WHERE id = :id"),
                       {"id": nid, "path": ["k_editor"], "v": "first"})
        update = pool.submit(lc.updated, nid, {"m_late": 1}, process)
        _wait_for_lock_waiter(engine)
        editor.commit()
        assert isinstance(update.result(10), Stale)  # the edit detached the execution
    assert isinstance(lc.started(nid), Applied)
    row = node_row(engine, nid)
    assert row.config["k_editor"] == "first" and "m_late" not in row.metadata
    assert row.status == "in_progress" and row.run_structure_version == row.structure_version == 2


@pytest.mark.xfail(strict=True, reason="editor writes change status via the trigger but do not "
                   "refresh the pipeline roll-up; only the next validation pass heals it")
def test_progress_right_after_an_editor_structure_change(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid)
    Lifecycle(engine).started(nid)
    _edit(engine, nid, SET_CONFIG, path=["k"], v="x")
    assert pipeline_meta(engine, pid)["progress"]["in_progress"] == 0
