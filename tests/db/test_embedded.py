"""The embedded PostgreSQL used when DATABASE_URL is unset: created, reused, stopped cleanly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa

from video_dagster.db import embedded
from video_dagster.db import engine as db


def test_created_on_demand_reused_and_stopped():
    # A short path: the server's unix socket lives under it.
    home = Path(tempfile.mkdtemp(prefix="vdh"))
    try:
        url = embedded.start(home)
        db.upgrade(url)
        with db.get_engine(url).begin() as conn:
            conn.execute(sa.text("INSERT INTO video_production_pipelines (title) VALUES ('kept')"))
        db.get_engine(url).dispose()
        assert embedded.running_url(home) is not None
        assert embedded.stop(home) is True
        assert embedded.running_url(home) is None
        assert embedded.stop(home) is False

        url = embedded.start(home)  # the same data folder, started again
        with db.get_engine(url).connect() as conn:
            titles = conn.execute(sa.text("SELECT title FROM video_production_pipelines")).all()
        db.get_engine(url).dispose()
        assert [t.title for t in titles] == ["kept"]
        assert (home / "postgres" / "PG_VERSION").exists()
    finally:
        embedded.stop(home)
