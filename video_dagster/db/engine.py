"""Engines and schema migration for the shared pipeline database."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from video_dagster import settings
from video_dagster.domain import jsonlimits

if TYPE_CHECKING:
    # Alembic is imported where migrations run, not by every process that opens the database
    # (code server, run worker, each step process: ~0.15 s of start-up each).
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# Pool settings of both engines. Connections are recycled after 10 minutes.
POOL = {"pool_size": 10, "max_overflow": 20, "pool_recycle": 600,
        "connect_args": {"application_name": "video-dagster"}}


@cache
def get_engine(url: str) -> sa.Engine:
    """One pooled engine per URL per process. Pre-pinged: after a database restart or
    failover, a sensor tick or an asset body gets a live connection instead of failing once on
    a dead one (a round trip per checkout; the lifecycle's engine goes without, see below)."""
    return sa.create_engine(
        settings.sqlalchemy_url(url),
        # jsonb the editor stored nested 2,000 deep must not raise RecursionError on fetch.
        json_deserializer=jsonlimits.stored_loads,
        pool_pre_ping=True,
        **POOL,
    )


@cache
def get_autocommit_engine(url: str) -> sa.Engine:
    """Autocommit connections for work that is one statement, one transaction (lifecycle
    transitions): no autocommit toggle and no rollback on return, which cost a transition a
    fifth of its client CPU on the shared pool (bench/lifecycle.py). No pre-ping, which would
    cost every transition a round trip: a dead connection fails its statement and is dropped
    from the pool (Lifecycle._execute)."""
    return sa.create_engine(
        settings.sqlalchemy_url(url),
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,  # autocommit: no transaction is ever left open
        **POOL,
    )


def resolve_database_url(start_embedded: bool = True) -> str:
    """DATABASE_URL when set, else the embedded server (started on demand)."""
    url = settings.database_url_from_env()
    if url:
        return url
    from video_dagster.db import embedded

    if not start_embedded:
        running = embedded.running_url()
        if running is None:
            raise RuntimeError("DATABASE_URL is unset and the embedded database is not running")
        return running
    return embedded.start()


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    engine = get_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        from alembic import command

        command.upgrade(cfg, revision)


def current_revision(url: str) -> str | None:
    """The schema revision the database is at (None if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
