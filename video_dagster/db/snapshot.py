"""Read the graph skeleton (pipelines, nodes, deps) for the Dagster code location."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from video_dagster.domain.nodes import provider_of
from video_dagster.domain.snapshot import GraphSnapshot, NodeSkeleton, PipelineSkeleton
from video_dagster.domain.validation import referenced_ids

READ_GRAPH = sa.text(
    """
    SELECT p.id::text AS pipeline_id, p.title AS pipeline_title,
           n.id::text AS id, n.title, n.type, n.inputs, n.config ->> 'provider' AS provider
    FROM video_production_pipelines p
    LEFT JOIN video_production_nodes n ON n.pipeline_id = p.id
    ORDER BY p.id, n.id
    """
)


def read_graph_snapshot(engine: sa.Engine) -> GraphSnapshot:
    """One query, then a pure build of the frozen skeleton."""
    with engine.connect() as conn:
        rows = conn.execute(READ_GRAPH).all()
    titles: dict[str, str] = {}
    nodes: dict[str, list[NodeSkeleton]] = defaultdict(list)
    for r in rows:
        titles[r.pipeline_id] = r.pipeline_title
        if r.id is None:
            continue
        nodes[r.pipeline_id].append(
            NodeSkeleton(
                id=r.id,
                pipeline_id=r.pipeline_id,
                title=r.title,
                type=r.type,
                provider=provider_of(r.type, {"provider": r.provider}),
                input_ids=referenced_ids(r.type, r.inputs),
            )
        )
    return GraphSnapshot(
        pipelines=tuple(
            PipelineSkeleton(id=pid, title=titles[pid], nodes=tuple(nodes.get(pid, ())))
            for pid in titles
        )
    )


def load_graph_snapshot() -> GraphSnapshot:
    """The production fetch: DATABASE_URL (or the running embedded server)."""
    from video_dagster.db.engine import get_engine, resolve_database_url

    return read_graph_snapshot(get_engine(resolve_database_url()))
