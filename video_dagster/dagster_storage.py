"""Dagster's PostgreSQL storage with connections kept between statements and closed when idle.

dagster-postgres opens a new PostgreSQL connection for every statement of its run, event-log and
schedule storages (a `NullPool`, so that an idle process holds none). A step writes about ten
events, a materialization or check event takes two or three connections, and a run request
writes three "planned" events per selected asset before it is queued. On 2 cores an asset node's
step took ~0.24 s, ~0.09 s with connections kept (bench/reaction.py, 21-node pipeline).

`PooledPostgresStorage` is that storage with one change: each engine keeps `POOL_SIZE` connection
between statements and closes it once unused for `IDLE_SECONDS`, or when the instance is
disposed (a sensor evaluation builds and disposes one per tick). Overflow stays unbounded, as
with `NullPool`, so nothing ever waits for a connection; a process that waits (a step on a
provider job) holds none after a few seconds. A kept connection is pinged before use; a forked
child forgets the ones it inherited without touching them. The webserver replaces the engines
with Dagster's own webserver pool, as before.

dagster.yaml selects it (`storage: custom: ...`) with the same config as `storage: postgres`.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

import sqlalchemy as sa
from dagster_postgres.storage import DagsterPostgresStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.util.queue import Empty

POOL_SIZE = 1
IDLE_SECONDS = 5.0
"""Kept connections are closed after this long unused (checked every REAP_SECONDS)."""
REAP_SECONDS = 1.0

_pools: weakref.WeakSet[IdleClosingPool] = weakref.WeakSet()
_reaper_lock = threading.Lock()
_reaper_pid: int | None = None


class IdleClosingPool(QueuePool):
    """A QueuePool with unbounded overflow whose kept connections close after IDLE_SECONDS."""

    def __init__(self, creator: Any, pool_size: int = POOL_SIZE, max_overflow: int = -1,
                 timeout: float = 30.0, **kw: Any) -> None:
        super().__init__(creator, pool_size=pool_size, max_overflow=max_overflow,
                         timeout=timeout, **kw)
        self.last_returned = time.monotonic()
        _pools.add(self)

    def _do_return_conn(self, record: Any) -> None:
        self.last_returned = time.monotonic()
        super()._do_return_conn(record)
        _ensure_reaper()

    def close_idle(self, idle_seconds: float | None = None) -> int:
        """Close the kept connections if none was returned for `idle_seconds` (IDLE_SECONDS);
        return how many were closed."""
        idle = IDLE_SECONDS if idle_seconds is None else idle_seconds
        if time.monotonic() - self.last_returned < idle:
            return 0
        closed = 0
        while True:
            try:
                record = self._pool.get(False)
            except Empty:
                return closed
            record.close()
            self._dec_overflow()  # the accounting QueuePool does for a connection it closes
            closed += 1

    def forget_inherited(self, devnull: int) -> None:
        """In a forked child: drop the kept connections, which share their sockets with the
        parent, without ending the parent's sessions. Their sockets are replaced by /dev/null
        first, so what libpq sends when the connection objects are freed goes nowhere."""
        while True:
            try:
                record = self._pool.get(False)
            except Empty:
                return
            dbapi = record.dbapi_connection
            if dbapi is not None:
                try:
                    os.dup2(devnull, dbapi.fileno())
                except (OSError, ValueError, AttributeError):
                    pass  # closed already: nothing is shared
                record.dbapi_connection = None
            self._dec_overflow()


def _ensure_reaper() -> None:
    """One daemon thread per process closes idle connections (started again after a fork)."""
    global _reaper_pid
    pid = os.getpid()
    if _reaper_pid == pid:
        return
    with _reaper_lock:
        if _reaper_pid == pid:
            return
        threading.Thread(target=_reap, name="video-dagster-pg-idle", daemon=True).start()
        _reaper_pid = pid


def _reap() -> None:
    while True:
        time.sleep(REAP_SECONDS)
        for pool in list(_pools):
            try:
                pool.close_idle()
            except Exception:  # a close that fails must not end the reaper
                continue


def _after_fork_in_child() -> None:
    """Every pool of this process forgets what it kept before the fork (the reaper thread did
    not survive the fork: _ensure_reaper starts one again, by pid)."""
    pools = list(_pools)
    if not pools:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for pool in pools:
            pool.forget_inherited(devnull)
    finally:
        os.close(devnull)


os.register_at_fork(after_in_child=_after_fork_in_child)


def pooled_engine(postgres_url: str, token_provider: Any = None) -> sa.Engine:
    """The engine dagster-postgres makes, with IdleClosingPool instead of NullPool."""
    # Pre-ping: a kept connection the server ended (restart, failover, idle timeout) is replaced
    # before use, as a new one would have been; one round trip, far below a connection set-up.
    engine = create_pg_engine(postgres_url, token_provider, isolation_level="AUTOCOMMIT",
                              poolclass=IdleClosingPool, pool_size=POOL_SIZE, max_overflow=-1,
                              pool_pre_ping=True)
    return engine


class PooledPostgresStorage(DagsterPostgresStorage):
    """`storage: postgres` with IdleClosingPool engines for runs, events and schedules."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: Any = None, token_provider: Any = None) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data=inst_data,
                         token_provider=token_provider)
        storages = (self._run_storage, self._event_log_storage, self._schedule_storage)
        for storage in storages:
            storage._engine.dispose()  # the NullPool engine that created the tables
            storage._engine = pooled_engine(storage.postgres_url, token_provider)
        # DagsterInstance.dispose() disposes its run and event-log storages (which only stop
        # their watchers), never the schedule storage: close the kept connections of all three.
        event_log_dispose = self._event_log_storage.dispose

        def dispose_with_connections() -> None:
            event_log_dispose()
            for storage in storages:
                storage._engine.dispose()

        self._event_log_storage.dispose = dispose_with_connections  # type: ignore[method-assign]

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> PooledPostgresStorage:  # type: ignore[override]
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
