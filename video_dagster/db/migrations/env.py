"""Alembic environment: runs migrations on the connection or URL handed in by db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from video_dagster.db.tables import metadata

config = context.config


def run_migrations_online() -> None:
    """Migrate using a passed-in connection, else the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
