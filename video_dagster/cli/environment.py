"""The environment Dagster processes started by the CLI run in (no command of its own)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
URL_HELP = ("Dagster GraphQL endpoint (default: $DAGSTER_GRAPHQL_URL, else "
            "http://127.0.0.1:3000/graphql)")


def dagster_environment(database_url: str, embedded: bool) -> dict[str, str]:
    """Environment for Dagster processes: shared DB, Dagster's own DB, DAGSTER_HOME."""
    from sqlalchemy.engine import make_url

    from video_dagster import logsetup, settings
    from video_dagster.db import embedded as emb

    env = {"DATABASE_URL": database_url}
    if not os.environ.get("DAGSTER_PG_URL"):
        if embedded:
            dagster_url = emb.start(database="dagster")
        else:
            dagster_url = ensure_database(database_url, make_url(
                settings.sqlalchemy_url(database_url)).database + "_dagster")
        env["DAGSTER_PG_URL"] = settings.psycopg2_url(dagster_url)
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home_dir() / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() or not os.environ.get("DAGSTER_HOME"):
        shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env["DAGSTER_HOME"] = str(home)
    # Every Dagster process (webserver, daemon, code servers, runs) logs each line once, also
    # after a database reconnect (see video_dagster/logsetup.py).
    env.update(logsetup.startup_env(home))
    env["VIDEO_DAGSTER_HOME"] = str(settings.home_dir())
    return env


def ensure_database(url: str, name: str) -> str:
    """Create database `name` beside `url`'s (Dagster storage must not mix with video tables)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from video_dagster import settings

    base = make_url(settings.sqlalchemy_url(url))
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).first():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)
