"""`video-dagster dev`'s Dagster processes print each log line once, also after a DB reconnect."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from video_dagster import settings

# What the daemon does when its storage database went away and came back: dagster-postgres
# retries the connection (first attempt: the server is gone; second: it is back), then the
# daemon's own logger goes on logging.
RECONNECT = """
import sys
import sqlalchemy as sa
from dagster._daemon.daemon import get_default_daemon_logger
from dagster._utils.log import configure_loggers
from dagster_postgres.utils import retry_pg_connection_fn

gone, back = sys.argv[1], sys.argv[2]
configure_loggers()  # as `dagster-daemon run` does
log = get_default_daemon_logger("SensorDaemon")
log.info("line one")
urls = iter([gone, back])

def connect():
    eng = sa.create_engine(next(urls), poolclass=sa.pool.NullPool)
    with eng.connect() as conn:
        return conn.execute(sa.text("SELECT 1")).scalar_one()

assert retry_pg_connection_fn(connect, retry_limit=2, retry_wait=0.01) == 1
log.info("line two")
log.warning("line three")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_line_repeats_after_a_database_reconnect(
    pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from video_dagster.cli.environment import dagster_environment

    back = make_url(settings.sqlalchemy_url(pg_server)).set(database="postgres")
    gone = back.set(port=_free_port())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://unused@127.0.0.1/unused")
    env = {**os.environ, **dagster_environment(back.render_as_string(False), embedded=False)}
    proc = subprocess.run(
        [sys.executable, "-c", RECONNECT, gone.render_as_string(False),
         back.render_as_string(False)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
        check=False)
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    for message in ("line one", "line two", "line three"):
        assert sum(message in line for line in lines) == 1, proc.stdout
    # The retry itself is still reported (once per failed attempt).
    assert sum("Retrying failed database connection" in line for line in lines) == 1, proc.stdout
