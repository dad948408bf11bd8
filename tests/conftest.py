"""Shared fixtures: a real PostgreSQL server and a fresh, migrated database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from video_dagster import settings
from video_dagster.db import engine as db_engine


def _server_url(tmp_root: Path) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    # A short path: the server's unix socket path must stay under ~100 characters.
    server = pgserver.get_server(tmp_root, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


def _with_database(url: str, name: str) -> str:
    return make_url(settings.sqlalchemy_url(url)).set(database=name).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a PostgreSQL server: TEST_DATABASE_URL/DATABASE_URL, else our own pgserver."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="vdpg"))
    yield from _server_url(root)


@pytest.fixture(scope="session")
def _admin(pg_server: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(_with_database(pg_server, "postgres"), isolation_level="AUTOCOMMIT")
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def template_db(pg_server: str, _admin: sa.Engine) -> Iterator[str]:
    """A migrated template database; each test clones it (fast, isolated)."""
    name = f"vd_tmpl_{uuid.uuid4().hex[:10]}"
    with _admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = _with_database(pg_server, name)
    db_engine.upgrade(url)
    db_engine.get_engine(url).dispose()
    yield name
    with _admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_url(pg_server: str, _admin: sa.Engine, template_db: str) -> Iterator[str]:
    """A fresh migrated database for one test, dropped afterwards."""
    name = f"vd_test_{uuid.uuid4().hex[:12]}"
    with _admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    url = _with_database(pg_server, name)
    yield url
    db_engine.get_engine(url).dispose()
    with _admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    """The pooled engine for this test's database."""
    return db_engine.get_engine(db_url)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3/Lambda server on loopback, shared by the session (tests use their own buckets)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def use_fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str) -> None:
    """Fake credentials only, and a developer's own AWS config kept out of the test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
