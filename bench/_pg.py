"""Where the benchmarks run: a PostgreSQL server and a throw-away, migrated database on it."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from video_dagster import settings
from video_dagster.db import engine as db_engine


@contextmanager
def server_url() -> Iterator[tuple[str, str]]:
    """(URL, description): DATABASE_URL / TEST_DATABASE_URL, else a private pgserver."""
    url = os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url, "DATABASE_URL" if os.environ.get("DATABASE_URL") else "TEST_DATABASE_URL"
        return
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="vdbench"))  # short: the socket path has a length limit
    server = pgserver.get_server(root, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres"), f"own pgserver in {root}"
    finally:
        server.cleanup()


def on_database(url: str, database: str) -> str:
    """The same server, another database."""
    return make_url(settings.sqlalchemy_url(url)).set(database=database).render_as_string(
        hide_password=False)


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A fresh, migrated database, dropped on the way out."""
    admin = sa.create_engine(on_database(server, "postgres"), isolation_level="AUTOCOMMIT")
    name = f"vd_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = on_database(server, name)
    try:
        db_engine.upgrade(url)
        yield url
    finally:
        db_engine.get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
