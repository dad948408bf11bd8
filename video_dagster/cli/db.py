"""`video-dagster db`: migrate, locate and stop the pipeline database."""

from __future__ import annotations

import argparse
from typing import Any

from video_dagster.cli.common import add_command, describe_database


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Apply the schema migrations."""
    from video_dagster import settings
    from video_dagster.db import engine as db

    url = db.resolve_database_url()
    db.upgrade(url)
    print(f"database: {describe_database(url, settings.database_url_from_env() is None)}")
    print(f"schema at revision {db.current_revision(url)}")
    return 0


def cmd_url(args: argparse.Namespace) -> int:
    """Print the database URL (starting the embedded server if needed)."""
    from video_dagster.db import engine as db

    print(db.resolve_database_url())
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the embedded server."""
    from video_dagster import settings
    from video_dagster.db import embedded

    if settings.database_url_from_env():
        print("DATABASE_URL is set; nothing embedded to stop")
        return 0
    if embedded.running_url() is None:
        print(f"the embedded database in {settings.home_dir()} was not running")
        return 0
    embedded.stop()
    print(f"stopped the embedded database in {settings.home_dir()}")
    return 0


def register(sub: Any) -> None:
    """Add `db` and its actions."""
    p = add_command(sub, "db", "the pipeline database: upgrade | url | stop",
                    "video-dagster db upgrade")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_command(actions, "upgrade", "apply the schema migrations",
                "video-dagster db upgrade").set_defaults(func=cmd_upgrade)
    add_command(actions, "url", "print the database URL (starts the embedded one if needed)",
                "psql \"$(video-dagster db url)\"").set_defaults(func=cmd_url)
    add_command(actions, "stop", "stop the embedded database",
                "video-dagster db stop").set_defaults(func=cmd_stop)
