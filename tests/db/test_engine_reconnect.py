"""The shared engine after a database restart: the next statement gets a live connection."""

from __future__ import annotations

import sqlalchemy as sa


def _end_sessions(engine: sa.Engine) -> int:
    """What a restart or a failover does to every pooled session of this database."""
    admin = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        ended = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    admin.dispose()
    return int(ended)


def test_a_pooled_connection_the_server_ended_is_replaced_before_use(engine: sa.Engine) -> None:
    with engine.connect() as first, engine.connect() as second:  # two kept in the pool
        pids = {first.execute(sa.text("SELECT pg_backend_pid()")).scalar_one(),
                second.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()}
    assert _end_sessions(engine) >= 2
    for _ in range(3):  # a sensor tick's statements: none fails
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() not in pids
