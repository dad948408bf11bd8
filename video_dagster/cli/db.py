"""`video-dagster db`: migrate, locate and stop the pipeline database."""

from __future__ import annotations

import argparse
from typing import Any

from video_dagster.cli.common import CliError, add_command, describe_database


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
    url = embedded.running_url()
    if url is None:
        print(f"the embedded database in {settings.home_dir()} was not running")
        return 0
    users = _other_clients(url)
    if users and not args.force:
        raise CliError(
            f"{users} still connected to the embedded database in {settings.home_dir()} "
            "(is `video-dagster dev` running? Ctrl-C stops it and the database); "
            "--force stops it anyway")
    embedded.stop()
    print(f"stopped the embedded database in {settings.home_dir()}")
    return 0


def _other_clients(url: str) -> str:
    """Who else is connected (e.g. `dev`'s daemon and webserver), or "" when nobody is."""
    import sqlalchemy as sa

    from video_dagster import settings

    eng = sa.create_engine(settings.sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with eng.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT count(*) AS n, string_agg(DISTINCT coalesce(nullif(application_name, ''),"
                " 'unnamed'), ', ') AS apps FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")).one()
    finally:
        eng.dispose()
    return f"{row.n} client(s) ({row.apps}) are" if row.n else ""


def register(sub: Any) -> None:
    """Add `db` and its actions."""
    p = add_command(sub, "db", "the pipeline database: upgrade | url | stop",
                    "video-dagster db upgrade")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_command(actions, "upgrade", "apply the schema migrations",
                "video-dagster db upgrade").set_defaults(func=cmd_upgrade)
    add_command(actions, "url", "print the database URL (starts the embedded one if needed)",
                "psql \"$(video-dagster db url)\"").set_defaults(func=cmd_url)
    a = add_command(actions, "stop", "stop the embedded database (refused while clients use it)",
                    "video-dagster db stop")
    a.add_argument("--force", action="store_true", help="stop even while clients are connected")
    a.set_defaults(func=cmd_stop)
