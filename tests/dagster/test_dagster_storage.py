"""Dagster's storage as dagster.yaml configures it: pooled, closed when idle, safe across forks."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.dagster_run import DagsterRun

from video_dagster import dagster_storage, settings
from video_dagster.cli.environment import REPO_ROOT


@pytest.fixture
def db_url(pg_server: str, _admin: sa.Engine) -> Iterator[str]:
    """An empty database of Dagster's own (never the video tables: both use Alembic)."""
    name = f"vd_dagster_{uuid.uuid4().hex[:12]}"
    with _admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(settings.sqlalchemy_url(pg_server)).set(
        database=name).render_as_string(hide_password=False)
    with _admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def instance(db_url: str, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    """An instance from the repository's dagster.yaml, its storage in its own database."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", settings.psycopg2_url(db_url))
    monkeypatch.setattr(dagster_storage, "IDLE_SECONDS", 1.0)
    monkeypatch.setattr(dagster_storage, "REAP_SECONDS", 0.2)
    with DagsterInstance.from_config(str(home)) as inst:
        yield inst


def _event(run_id: str, n: int) -> EventLogEntry:
    event = DagsterEvent(DagsterEventType.ENGINE_EVENT.value, "test_job",
                         message=f"event {n}", event_specific_data=EngineEventData())
    return EventLogEntry(error_info=None, level="INFO", user_message=f"event {n}",
                         run_id=run_id, timestamp=time.time(), dagster_event=event)


def _backends(engine: sa.Engine, db_url: str) -> int:
    """Open sessions of this process's storage on the test database (not the counting one)."""
    name = sa.engine.make_url(settings.sqlalchemy_url(db_url)).database
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"), {"d": name}).scalar_one())


def _store(instance: DagsterInstance, run_id: str, count: int) -> None:
    for n in range(count):
        instance.event_log_storage.store_event(_event(run_id, n))


def test_dagster_yaml_selects_the_pooled_storage_and_runs_and_events_round_trip(
        instance: DagsterInstance) -> None:
    ref = instance.get_ref()
    assert ref.storage_data is not None
    assert ref.storage_data.class_name == "PooledPostgresStorage", ref.storage_data
    for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
        assert isinstance(storage._engine.pool, dagster_storage.IdleClosingPool)
    run = instance.add_run(DagsterRun(job_name="test_job"))
    _store(instance, run.run_id, 5)
    assert [e.user_message for e in instance.all_logs(run.run_id)] == [
        f"event {n}" for n in range(5)]
    # A child process rebuilds the instance from its ref: the same storage class.
    with DagsterInstance.from_ref(ref) as again:
        assert isinstance(again.event_log_storage._engine.pool,
                          dagster_storage.IdleClosingPool)
        assert len(again.all_logs(run.run_id)) == 5


def test_statements_reuse_connections_and_idle_ones_close(
        instance: DagsterInstance, db_url: str) -> None:
    counter = sa.create_engine(settings.sqlalchemy_url(db_url), poolclass=sa.pool.NullPool)
    connects: list[int] = []
    engine = instance.event_log_storage._engine
    sa.event.listen(engine, "connect", lambda *_: connects.append(1))
    run = instance.add_run(DagsterRun(job_name="test_job"))
    _store(instance, run.run_id, 40)
    assert len(connects) <= dagster_storage.POOL_SIZE, "a connection per statement again"
    assert _backends(counter, db_url) >= 1
    # Nothing used for IDLE_SECONDS: every kept connection of every engine is closed.
    deadline = time.monotonic() + 10
    while _backends(counter, db_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _backends(counter, db_url) == 0
    _store(instance, run.run_id, 1)  # and the pool opens one again when needed
    assert len(instance.all_logs(run.run_id)) == 41
    counter.dispose()


def test_a_connection_the_server_ended_is_replaced_not_failed(
        instance: DagsterInstance, db_url: str) -> None:
    run = instance.add_run(DagsterRun(job_name="test_job"))
    _store(instance, run.run_id, 3)
    name = sa.engine.make_url(settings.sqlalchemy_url(db_url)).database
    admin = sa.create_engine(settings.sqlalchemy_url(db_url), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:  # a server restart, a failover, an idle-session timeout
        ended = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": name}).scalar_one()
    admin.dispose()
    assert ended >= 1
    _store(instance, run.run_id, 3)
    assert len(instance.all_logs(run.run_id)) == 6


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_forked_child_forgets_inherited_connections_without_ending_the_parents_sessions(
        instance: DagsterInstance) -> None:
    events = instance.event_log_storage._engine
    runs = instance.run_storage._engine
    run = instance.add_run(DagsterRun(job_name="test_job"))
    _store(instance, run.run_id, 2)
    parent_events, parent_runs = _backend_pid(events), _backend_pid(runs)  # kept by the parent
    pid = os.fork()
    if pid == 0:  # the child: using a kept connection would share the parent's socket
        try:
            shared = _backend_pid(events) == parent_events
            _store(instance, run.run_id, 2)
            # What the child's reaper does once idle, to every pool it has (used or not).
            for pool in list(dagster_storage._pools):
                pool.close_idle(0)
            os._exit(3 if shared else 0 if len(instance.all_logs(run.run_id)) == 4 else 4)
        except BaseException:  # any failure is the child's exit code
            os._exit(5)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "3: the child used the parent's session"
    # The parent's sessions survived the child, including the one the child never used.
    assert _backend_pid(events) == parent_events
    assert _backend_pid(runs) == parent_runs
    _store(instance, run.run_id, 2)
    assert len(instance.all_logs(run.run_id)) == 6


def test_close_idle_reports_what_it_closed(instance: DagsterInstance) -> None:
    engine = instance.event_log_storage._engine
    pool = engine.pool
    assert isinstance(pool, dagster_storage.IdleClosingPool)
    _backend_pid(engine)
    assert pool.close_idle(3600) == 0, "used just now: kept"
    assert pool.close_idle(0) == 1
    assert pool.close_idle(0) == 0
    assert _backend_pid(engine) > 0, "and a new one is opened when needed"


def test_disposing_an_instance_closes_its_connections_at_once(
        instance: DagsterInstance, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A sensor evaluation builds an instance from its ref and disposes it, every tick.
    monkeypatch.setattr(dagster_storage, "IDLE_SECONDS", 3600.0)
    counter = sa.create_engine(settings.sqlalchemy_url(db_url), poolclass=sa.pool.NullPool)
    for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
        storage._engine.dispose()  # the fixture's instance: none either
    assert _backends(counter, db_url) == 0
    tick = DagsterInstance.from_ref(instance.get_ref())
    run = tick.add_run(DagsterRun(job_name="test_job"))
    _store(tick, run.run_id, 2)
    tick.all_instigator_state()  # the schedule storage, which the instance never disposes
    assert _backends(counter, db_url) == 3
    tick.dispose()
    assert _backends(counter, db_url) == 0
    counter.dispose()
