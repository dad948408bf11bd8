"""Write validation results (is_valid, validation_errors) for whole pipelines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from video_dagster.db import progress
from video_dagster.domain import costs
from video_dagster.domain.validation import NodeDraft, validate_pipeline

READ_NODES = sa.text(
    """
    SELECT id::text AS id, type, inputs, config, structure_version, validated_version,
           is_valid, validation_errors, estimated_cost
    FROM video_production_nodes WHERE pipeline_id = :pid ORDER BY id
    """
)

# Conditional on the structure version read: a node edited meanwhile stays marked for the next
# pass instead of receiving a verdict about structure it no longer has.
WRITE_RESULT = sa.text(
    """
    UPDATE video_production_nodes
    SET is_valid = :is_valid, validation_errors = CAST(:errors AS jsonb),
        validated_version = :version, estimated_cost = :estimated
    WHERE id = CAST(:id AS uuid) AND structure_version = :version
    """
)

PENDING_PIPELINES = sa.text(
    """
    SELECT pipeline_id::text FROM (
        SELECT DISTINCT pipeline_id FROM video_production_nodes
        WHERE validated_version < structure_version
        UNION
        SELECT DISTINCT pipeline_id FROM video_production_revalidation_queue
    ) p ORDER BY 1 LIMIT :limit
    """
)


@dataclass(frozen=True)
class PipelineValidation:
    """What one validation pass over a pipeline found and wrote."""

    pipeline_id: str
    nodes: int
    invalid: int
    written: int


def validate_one(conn: sa.Connection, pipeline_id: str) -> PipelineValidation:
    """Validate every node of a pipeline; write only rows whose verdict changed."""
    rows = conn.execute(READ_NODES, {"pid": pipeline_id}).all()
    drafts = [NodeDraft(id=r.id, type=r.type, inputs=r.inputs, config=r.config) for r in rows]
    verdicts = validate_pipeline(drafts)
    params = []
    invalid = 0
    for r in rows:
        errors = verdicts.get(r.id, {})
        invalid += bool(errors)
        estimated = costs.estimate(r.type, r.config)
        unchanged = (
            r.validated_version == r.structure_version
            and r.is_valid == (not errors)
            and r.validation_errors == errors
            and r.estimated_cost is not None
            and float(r.estimated_cost) == estimated
        )
        if not unchanged:
            params.append(
                {
                    "id": r.id,
                    "is_valid": not errors,
                    "errors": json.dumps(errors),
                    "version": r.structure_version,
                    "estimated": estimated,
                }
            )
    if params:
        conn.execute(WRITE_RESULT, params)
    progress.refresh(conn, pipeline_id)
    return PipelineValidation(pipeline_id, len(rows), invalid, len(params))


def validate_pipelines(engine: sa.Engine, pipeline_ids: Iterable[str]) -> list[PipelineValidation]:
    """Validate the given pipelines, one transaction each."""
    results = []
    for pid in pipeline_ids:
        with engine.begin() as conn:
            results.append(validate_one(conn, pid))
    return results


def validate_changed(engine: sa.Engine, limit: int = 200) -> list[PipelineValidation]:
    """Validate pipelines with nodes whose structure changed or whose node set changed."""
    with engine.begin() as conn:
        high_water = conn.execute(
            sa.text("SELECT coalesce(max(id), 0) FROM video_production_revalidation_queue")
        ).scalar_one()
        pipeline_ids = [r[0] for r in conn.execute(PENDING_PIPELINES, {"limit": limit})]
    results = validate_pipelines(engine, pipeline_ids)
    if pipeline_ids:
        with engine.begin() as conn:
            # Entries queued after we started stay for the next pass.
            conn.execute(
                sa.text(
                    "DELETE FROM video_production_revalidation_queue "
                    "WHERE id <= :hw AND pipeline_id = ANY(CAST(:pids AS uuid[]))"
                ),
                {"hw": high_water, "pids": pipeline_ids},
            )
    return results
