"""Runtime settings, read from the environment when asked for (never at import time)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def home_dir() -> Path:
    """Folder for local state: embedded PostgreSQL, local object store, Dagster home.

    Never the current folder, so every command finds the same database wherever it is run:
    VIDEO_DAGSTER_HOME, else `.home` in the source checkout the package runs from, else
    `$XDG_DATA_HOME/video-dagster` (`~/.local/share/video-dagster`) for an installed package.
    """
    configured = os.environ.get("VIDEO_DAGSTER_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    if (PACKAGE_ROOT / "pyproject.toml").is_file():
        return PACKAGE_ROOT / ".home"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return (Path(data) / "video-dagster").resolve()


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
