"""Embedded PostgreSQL under the project home folder, used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from video_dagster.settings import home_dir

log = logging.getLogger(__name__)

DATABASE_NAME = "video"


def _pgdata(home: Path | None) -> Path:
    return (home or home_dir()) / "postgres"


def start(home: Path | None = None, database: str = DATABASE_NAME) -> str:
    """Create (first time) and start the embedded server; return a URL for `database`.

    The server keeps running after this process exits so that the Dagster webserver, daemon, code
    server and run workers share it; `stop()` shuts it down cleanly.
    """
    import warnings

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (normal in containers and CI).
        warnings.simplefilter("ignore")
        import pgserver  # deferred: only the embedded mode needs it

    pgdata = _pgdata(home)
    pgdata.mkdir(parents=True, exist_ok=True)
    # pgserver caches one handle per folder; after `stop()` that handle is stale, so drop it.
    cached = pgserver.PostgresServer._instances.get(pgdata.resolve())
    if cached is not None and not _is_running(pgdata):
        del pgserver.PostgresServer._instances[pgdata.resolve()]
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        log.info("created embedded database %s in %s", database, pgdata)
    return server.get_uri(database)


def _is_running(pgdata: Path) -> bool:
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def running_url(home: Path | None = None, database: str = DATABASE_NAME) -> str | None:
    """The URL of the embedded server if it is running, without starting it."""
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata(home))
    if info is None or not info.is_running():
        return None
    return str(info.get_uri(database=database))


def stop(home: Path | None = None) -> bool:
    """Stop the embedded server cleanly (fast shutdown); True if it was running."""
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo

    pgdata = _pgdata(home)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    user = "pgserver" if _is_root() else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        info.process.terminate()
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
