"""Write validation results (is_valid, validation_errors): whole pipelines, or one node.

Lock rule (db/lifecycle.py): the validation pass reads without locks, writes its verdicts with
SKIP LOCKED (a row the editor or a transition holds is retried in a later transaction, never
waited for while holding another) and recounts progress in a transaction of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from video_dagster.db import progress
from video_dagster.domain import costs
from video_dagster.domain import validation as rules
from video_dagster.domain.validation import NodeDraft, is_uuid, referenced_ids, validate_pipeline

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

# The same, for many rows at once, never waiting for a row lock: returns the rows to retry.
WRITE_UNLOCKED = sa.text(
    """
    WITH v AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:valid AS boolean[]),
                             CAST(:errors AS jsonb[]), CAST(:versions AS bigint[]),
                             CAST(:estimated AS numeric[]))
            AS v(id, is_valid, errors, version, estimated)
    ), locked AS (
        SELECT n.id FROM video_production_nodes n JOIN v ON n.id = v.id
        FOR UPDATE OF n SKIP LOCKED
    ), written AS (
        UPDATE video_production_nodes n
        SET is_valid = v.is_valid, validation_errors = v.errors,
            validated_version = v.version, estimated_cost = v.estimated
        FROM v WHERE n.id = v.id AND n.id IN (SELECT id FROM locked)
          AND n.structure_version = v.version
    )
    SELECT v.id::text FROM v
    WHERE v.id NOT IN (SELECT id FROM locked)
      AND EXISTS (SELECT 1 FROM video_production_nodes n WHERE n.id = v.id)
    """
)
WRITE_ATTEMPTS = 25

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

READ_NODE = sa.text(
    """
    SELECT id::text AS id, pipeline_id::text AS pipeline_id, type, inputs, config,
           structure_version, is_valid, validation_errors
    FROM video_production_nodes WHERE id = CAST(:id AS uuid)
    """
)
EXISTING = sa.text(
    "SELECT id::text FROM video_production_nodes "
    "WHERE pipeline_id = CAST(:pid AS uuid) AND id = ANY(CAST(:ids AS uuid[]))"
)
# Is the node among its own ancestors? Follows every string in `inputs` (a superset of the
# typed slots), so a hit is confirmed by the full pipeline verdict.
ON_A_CYCLE = sa.text(
    """
    WITH RECURSIVE up(id) AS (
        SELECT CAST(:id AS uuid)
        UNION
        SELECT CAST(ref #>> '{}' AS uuid)
        FROM up JOIN video_production_nodes n ON n.id = up.id,
             jsonb_path_query(n.inputs, 'lax $.*[*] ? (@.type() == "string")') AS ref
        WHERE n.pipeline_id = CAST(:pid AS uuid)
          AND ref #>> '{}' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
    )
    SELECT EXISTS (
        SELECT 1 FROM video_production_nodes n, up,
             jsonb_path_query(n.inputs, 'lax $.*[*] ? (@.type() == "string")') AS ref
        WHERE n.id = up.id AND n.pipeline_id = CAST(:pid AS uuid)
          AND ref #>> '{}' = CAST(:id AS text)
    )
    """
)
# The node's own verdict only: the structure version stays unvalidated so that the pipeline
# pass still runs (siblings' verdicts, estimated cost, the recount).
WRITE_NODE = sa.text(
    """
    UPDATE video_production_nodes
    SET is_valid = :is_valid, validation_errors = CAST(:errors AS jsonb)
    WHERE id = CAST(:id AS uuid) AND structure_version = :version
      AND (is_valid IS DISTINCT FROM :is_valid
           OR validation_errors IS DISTINCT FROM CAST(:errors AS jsonb))
    """
)


@dataclass(frozen=True)
class PipelineValidation:
    """What one validation pass over a pipeline found and wrote."""

    pipeline_id: str
    nodes: int
    invalid: int
    written: int
    complete: bool = True  # False: some rows stayed locked; the next pass retries them


def _verdicts(rows: Sequence[Any]) -> tuple[list[dict[str, Any]], int]:
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
            params.append({"id": r.id, "is_valid": not errors, "errors": json.dumps(errors),
                           "version": r.structure_version, "estimated": estimated})
    return params, invalid


def validate_one(conn: sa.Connection, pipeline_id: str) -> PipelineValidation:
    """Validate every node of a pipeline inside the caller's transaction (editing commands)."""
    rows = conn.execute(READ_NODES, {"pid": pipeline_id}).all()
    params, invalid = _verdicts(rows)
    if params:
        conn.execute(WRITE_RESULT, params)
    progress.refresh(conn, pipeline_id)
    return PipelineValidation(pipeline_id, len(rows), invalid, len(params))


def _write_unlocked(engine: sa.Engine, params: list[dict[str, Any]]) -> bool:
    """Write verdicts without ever waiting for a row lock; False if some stayed locked."""
    todo = params
    for attempt in range(WRITE_ATTEMPTS):
        with engine.begin() as conn:
            left = set(conn.execute(WRITE_UNLOCKED, {
                "ids": [p["id"] for p in todo], "valid": [p["is_valid"] for p in todo],
                "errors": [p["errors"] for p in todo], "versions": [p["version"] for p in todo],
                "estimated": [p["estimated"] for p in todo],
            }).scalars())
        todo = [p for p in todo if p["id"] in left]
        if not todo:
            return True
        time.sleep(0.005 * (attempt + 1))
    return False


def validate_pipeline_unlocked(engine: sa.Engine, pipeline_id: str) -> PipelineValidation:
    """One pipeline's pass: read, decide, write (SKIP LOCKED), then recount, each on its own."""
    with engine.connect() as conn:
        rows = conn.execute(READ_NODES, {"pid": pipeline_id}).all()
    params, invalid = _verdicts(rows)
    complete = _write_unlocked(engine, params) if params else True
    progress.recount(engine, pipeline_id)
    return PipelineValidation(pipeline_id, len(rows), invalid, len(params), complete)


def validate_pipelines(engine: sa.Engine, pipeline_ids: Iterable[str]) -> list[PipelineValidation]:
    """Validate the given pipelines."""
    return [validate_pipeline_unlocked(engine, pid) for pid in pipeline_ids]


def validate_changed(engine: sa.Engine, limit: int = 200) -> list[PipelineValidation]:
    """Validate pipelines with nodes whose structure changed or whose node set changed."""
    with engine.begin() as conn:
        high_water = conn.execute(
            sa.text("SELECT coalesce(max(id), 0) FROM video_production_revalidation_queue")
        ).scalar_one()
        pipeline_ids = [r[0] for r in conn.execute(PENDING_PIPELINES, {"limit": limit})]
    results = validate_pipelines(engine, pipeline_ids)
    done = [r.pipeline_id for r in results if r.complete]
    if done:
        with engine.begin() as conn:
            # Entries queued after we started stay for the next pass.
            conn.execute(
                sa.text(
                    "DELETE FROM video_production_revalidation_queue "
                    "WHERE id <= :hw AND pipeline_id = ANY(CAST(:pids AS uuid[]))"
                ),
                {"hw": high_water, "pids": done},
            )
    return results


def validate_node(conn: sa.Connection, node_id: str) -> dict[str, str] | None:
    """Validate one node against its inputs only (the asset body's check); its errors.

    Reads the node and the nodes it references, plus its ancestors when looking for a cycle;
    writes its own verdict (one row lock). None when the node is gone.
    """
    row = conn.execute(READ_NODE, {"id": node_id}).first()
    if row is None:
        return None
    refs = [r for r in referenced_ids(row.type, row.inputs) if is_uuid(r)]
    existing = set(conn.execute(EXISTING, {"pid": row.pipeline_id, "ids": refs}).scalars()) \
        if refs else set()
    draft = NodeDraft(id=row.id, type=row.type, inputs=row.inputs, config=row.config)
    errors = rules.validate_node(draft, existing | {row.id})
    if "inputs" not in errors and refs and conn.execute(
            ON_A_CYCLE, {"id": row.id, "pid": row.pipeline_id}).scalar_one():
        rows = conn.execute(READ_NODES, {"pid": row.pipeline_id}).all()
        drafts = [NodeDraft(id=r.id, type=r.type, inputs=r.inputs, config=r.config) for r in rows]
        errors = validate_pipeline(drafts).get(row.id, errors)
    conn.execute(WRITE_NODE, {"id": row.id, "is_valid": not errors,
                              "errors": json.dumps(errors), "version": row.structure_version})
    return errors
