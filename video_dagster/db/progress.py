"""Pipeline progress and cost roll-ups, recomputed from the node rows."""

from __future__ import annotations

import sqlalchemy as sa

LOCK_PIPELINE = sa.text("SELECT 1 FROM video_production_pipelines WHERE id = :pid FOR UPDATE")

# Recount rather than apply deltas: any writer (the editor too) may add or delete nodes, and a
# recount heals whatever happened in between. Runs after the pipeline row is locked, in a new
# statement, so its snapshot includes every transition committed before ours.
RECOUNT = sa.text(
    """
    UPDATE video_production_pipelines p
    SET metadata = p.metadata || jsonb_build_object(
        'progress', jsonb_build_object(
            'completed', c.completed, 'in_progress', c.in_progress, 'pending', c.pending,
            'failed', c.failed, 'total', c.total),
        'totalCost', c.total_cost,
        'estimatedTotalCost', c.estimated)
    FROM (
        SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
               count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
               count(*) FILTER (WHERE status = 'pending') AS pending,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) AS total,
               coalesce(sum(CASE WHEN jsonb_typeof(metadata -> 'cost') = 'number'
                                 THEN (metadata ->> 'cost')::numeric END), 0) AS total_cost,
               coalesce(sum(estimated_cost), 0) AS estimated
        FROM video_production_nodes WHERE pipeline_id = :pid
    ) c
    WHERE p.id = :pid
    """
)


def refresh(conn: sa.Connection, pipeline_id: str) -> None:
    """Lock the pipeline row and rewrite its progress, totalCost and estimatedTotalCost."""
    conn.execute(LOCK_PIPELINE, {"pid": pipeline_id})
    conn.execute(RECOUNT, {"pid": pipeline_id})
