"""Runtime settings, read from the environment when asked for (never at import time)."""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    """Folder for local state: embedded PostgreSQL, local object store, Dagster home."""
    return Path(os.environ.get("VIDEO_DAGSTER_HOME") or Path.cwd() / ".home").resolve()


def database_url_from_env() -> str | None:
    """The shared database's URL, if one is configured."""
    return os.environ.get("DATABASE_URL") or None


def sqlalchemy_url(url: str) -> str:
    """Normalise a PostgreSQL URL to the psycopg (v3) SQLAlchemy dialect."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def psycopg2_url(url: str) -> str:
    """The same database as a `postgresql+psycopg2://` URL (the form dagster-postgres needs)."""
    return "postgresql+psycopg2://" + sqlalchemy_url(url)[len("postgresql+psycopg://") :]


def libpq_url(url: str) -> str:
    """The same database as a plain `postgresql://` URL (psql, pg_dump)."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+psycopg://") :]
