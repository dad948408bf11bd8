"""Small builders for database tests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from video_dagster.db import editing


def make_pipeline(engine: sa.Engine, title: str = "Test pipeline") -> str:
    """Create an empty pipeline."""
    with engine.begin() as conn:
        return editing.create_pipeline(conn, title)


def make_node(engine: sa.Engine, pipeline_id: str, type: str = "asset", **kw: Any) -> str:
    """Create a node (asset by default) and validate its pipeline."""
    kw.setdefault("title", f"{type} node")
    if type == "asset":
        kw.setdefault("asset", {"content": "hello", "contentType": "text/plain"})
    with engine.begin() as conn:
        return editing.create_node(conn, pipeline_id, type=type, **kw)


def node_row(engine: sa.Engine, node_id: str) -> Any:
    """The whole node row, bookkeeping columns included."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM video_production_nodes WHERE id = :id"), {"id": node_id}
        ).one()


def pipeline_meta(engine: sa.Engine, pipeline_id: str) -> dict[str, Any]:
    """A pipeline's metadata column."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT metadata FROM video_production_pipelines WHERE id = :id"),
            {"id": pipeline_id},
        ).scalar_one()


def events(engine: sa.Engine, node_id: str) -> list[Any]:
    """Audit events of a node, oldest first."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT * FROM video_production_node_events WHERE node_id = :id ORDER BY id"
            ),
            {"id": node_id},
        ).all()
