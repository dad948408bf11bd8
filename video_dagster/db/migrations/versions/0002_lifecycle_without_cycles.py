"""Lifecycle transitions in one server call, progress as deltas, no lock cycle with the editor.

Revision ID: 0002
Revises: 0001

The lock rule these functions follow is written down in video_dagster/db/lifecycle.py.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- What each committed transition changed in its pipeline's roll-up, until folded into
-- pipelines.metadata. No foreign key on purpose: an FK check would take FOR KEY SHARE on the
-- pipeline row while the node row is locked.
CREATE TABLE video_production_progress_deltas (
    id bigserial PRIMARY KEY,
    pipeline_id uuid NOT NULL,
    from_status text NOT NULL,
    to_status text NOT NULL,
    cost numeric NOT NULL DEFAULT 0
);
CREATE INDEX ix_progress_deltas_pipeline ON video_production_progress_deltas (pipeline_id);

-- The gate of domain.lifecycle.stale_reason, in SQL (tests/db/test_lifecycle_sql.py compares
-- the two exhaustively): NULL when the command applies, else why it is stale.
CREATE FUNCTION video_lifecycle_stale_reason(
    status text, process uuid, sv bigint, rsv bigint, kind text, cmd_process uuid
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
SELECT CASE
    WHEN kind = 'started' THEN
        CASE WHEN status = 'in_progress' THEN
            format('node is already in progress (process %s)', coalesce(process::text, 'None'))
        END
    WHEN kind = 'failed' AND cmd_process IS NULL THEN
        CASE WHEN status NOT IN ('pending', 'failed') THEN
            format('node is %s; a failure must name its process', status)
        END
    WHEN process IS NULL THEN 'node has no execution in progress'
    WHEN cmd_process IS DISTINCT FROM process THEN
        format('process %s is not current (current: %s)', coalesce(cmd_process::text, 'None'),
               process)
    WHEN rsv IS DISTINCT FROM sv THEN 'execution started on an older structure version'
    WHEN status <> 'in_progress' THEN format('node is %s, not in_progress', status)
END $$;

-- Full recount of one pipeline's roll-up (the repair). The deltas it discards and the rows it
-- counts are read in one statement, so share one snapshot: nothing is counted twice or lost.
CREATE FUNCTION video_progress_recount(pid uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM video_production_pipelines WHERE id = pid FOR NO KEY UPDATE;
    WITH gone AS (DELETE FROM video_production_progress_deltas WHERE pipeline_id = pid)
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
        FROM video_production_nodes WHERE pipeline_id = pid
    ) c
    WHERE p.id = pid;
END $$;

-- Apply a pipeline's committed deltas to its metadata: O(deltas), not O(nodes). Locks the
-- pipeline row first (FOR NO KEY UPDATE: no conflict with the editor's FK checks), holding
-- nothing else the editor could want; each statement then sees every earlier fold.
-- extra_*: a transition's own delta, applied with the others without a row of its own.
CREATE FUNCTION video_progress_fold(
    pid uuid, extra_from text DEFAULT NULL, extra_to text DEFAULT NULL,
    extra_cost numeric DEFAULT 0
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m jsonb;
    d record;
BEGIN
    SELECT metadata INTO m FROM video_production_pipelines WHERE id = pid FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        DELETE FROM video_production_progress_deltas WHERE pipeline_id = pid;
        RETURN;
    END IF;
    IF NOT (jsonb_typeof(m #> '{progress,completed}') = 'number'
            AND jsonb_typeof(m #> '{progress,in_progress}') = 'number'
            AND jsonb_typeof(m #> '{progress,pending}') = 'number'
            AND jsonb_typeof(m #> '{progress,failed}') = 'number'
            AND jsonb_typeof(m #> '{progress,total}') = 'number'
            AND jsonb_typeof(m -> 'totalCost') = 'number') THEN
        PERFORM video_progress_recount(pid);  -- nothing to add deltas to yet
        RETURN;
    END IF;
    WITH gone AS (
        DELETE FROM video_production_progress_deltas WHERE pipeline_id = pid
        RETURNING from_status, to_status, cost
    ), delta AS (
        SELECT from_status, to_status, cost FROM gone
        UNION ALL
        SELECT extra_from, extra_to, extra_cost WHERE extra_from IS NOT NULL
    )
    SELECT count(*) AS n,
           coalesce(sum((to_status = 'completed')::int - (from_status = 'completed')::int), 0)
               AS completed,
           coalesce(sum((to_status = 'in_progress')::int - (from_status = 'in_progress')::int),
                    0) AS in_progress,
           coalesce(sum((to_status = 'pending')::int - (from_status = 'pending')::int), 0)
               AS pending,
           coalesce(sum((to_status = 'failed')::int - (from_status = 'failed')::int), 0)
               AS failed,
           coalesce(sum(cost), 0) AS cost
    INTO d FROM delta;
    IF d.n = 0 THEN
        RETURN;
    END IF;
    UPDATE video_production_pipelines
    SET metadata = metadata || jsonb_build_object(
        'progress', (metadata -> 'progress') || jsonb_build_object(
            'completed', (metadata #>> '{progress,completed}')::numeric + d.completed,
            'in_progress', (metadata #>> '{progress,in_progress}')::numeric + d.in_progress,
            'pending', (metadata #>> '{progress,pending}')::numeric + d.pending,
            'failed', (metadata #>> '{progress,failed}')::numeric + d.failed),
        'totalCost', (metadata ->> 'totalCost')::numeric + d.cost)
    WHERE id = pid;
END $$;

-- One lifecycle transition, one call: lock the node, decide, write, audit, and fold the delta
-- into the pipeline row if that row is free; else record the delta as a row and return the
-- pipeline in fold_after, for a second transaction that holds no node lock.
-- kind is the event name; p_process the command's process id (the new one for 'started').
CREATE FUNCTION video_lifecycle_apply(
    p_node uuid, kind text, p_process uuid, p_patch jsonb, p_remove text[], p_output jsonb,
    p_deadline timestamptz, p_detail jsonb,
    OUT applied boolean, OUT result_status text, OUT result_process uuid, OUT reason text,
    OUT fold_after uuid
) LANGUAGE plpgsql AS $$
DECLARE
    n record;
    new_cost jsonb;
    cost_delta numeric := 0;
BEGIN
    SELECT pipeline_id, status, process_uuid, structure_version, run_structure_version,
           metadata -> 'cost' AS cost
    INTO n FROM video_production_nodes WHERE id = p_node FOR UPDATE;
    IF NOT FOUND THEN
        applied := false;
        reason := 'no such node';
        RETURN;
    END IF;
    reason := video_lifecycle_stale_reason(n.status, n.process_uuid, n.structure_version,
                                           n.run_structure_version, kind, p_process);
    IF reason IS NOT NULL THEN
        INSERT INTO video_production_node_events
            (node_id, pipeline_id, event, applied, process_uuid, from_status, to_status,
             structure_version, detail)
        VALUES (p_node, n.pipeline_id, kind, false, p_process, n.status, n.status,
                n.structure_version, jsonb_build_object('reason', reason));
        applied := false;
        result_status := n.status;
        result_process := n.process_uuid;
        RETURN;
    END IF;
    applied := true;
    result_status := CASE kind WHEN 'started' THEN 'in_progress' WHEN 'updated' THEN n.status
                               WHEN 'succeeded' THEN 'completed' ELSE 'failed' END;
    result_process := CASE WHEN kind = 'started' THEN p_process ELSE n.process_uuid END;
    IF kind = 'started' THEN
        p_patch := p_patch || jsonb_build_object('structure_version', n.structure_version);
    END IF;
    WITH written AS (
    UPDATE video_production_nodes SET
        status = result_status,
        process_uuid = result_process,
        metadata = (coalesce(metadata, '{}'::jsonb) - p_remove) || p_patch,
        output = CASE WHEN kind = 'succeeded' THEN p_output ELSE output END,
        run_structure_version = CASE WHEN kind = 'started' THEN structure_version
                                     ELSE run_structure_version END,
        attempt = attempt + CASE WHEN kind = 'started' THEN 1 ELSE 0 END,
        failures = failures + CASE WHEN kind = 'failed' THEN 1 ELSE 0 END,
        deadline_at = CASE kind WHEN 'updated' THEN deadline_at
                                WHEN 'started' THEN p_deadline END
    WHERE id = p_node
    RETURNING metadata -> 'cost' AS cost
    ), audit AS (
    INSERT INTO video_production_node_events
        (node_id, pipeline_id, event, applied, process_uuid, from_status, to_status,
         structure_version, detail)
    VALUES (p_node, n.pipeline_id, kind, true, p_process, n.status, result_status,
            n.structure_version, p_detail)
    )
    SELECT cost INTO new_cost FROM written;
    IF new_cost IS DISTINCT FROM n.cost THEN
        cost_delta := CASE WHEN jsonb_typeof(new_cost) = 'number'
                           THEN (new_cost #>> '{}')::numeric ELSE 0 END
                    - CASE WHEN jsonb_typeof(n.cost) = 'number'
                           THEN (n.cost #>> '{}')::numeric ELSE 0 END;
    END IF;
    IF result_status = n.status AND cost_delta = 0 THEN
        RETURN;
    END IF;
    -- Holding the node row, the pipeline row is only taken if free (never waited for). The
    -- common case in one statement: free, a complete roll-up, no delta rows waiting.
    UPDATE video_production_pipelines
    SET metadata = metadata || jsonb_build_object(
        'progress', (metadata -> 'progress') || jsonb_build_object(
            n.status, (metadata -> 'progress' ->> n.status)::numeric - 1,
            result_status, (metadata -> 'progress' ->> result_status)::numeric + 1),
        'totalCost', (metadata ->> 'totalCost')::numeric + cost_delta)
    WHERE id = (SELECT id FROM video_production_pipelines WHERE id = n.pipeline_id
                FOR NO KEY UPDATE SKIP LOCKED)
      AND n.status <> result_status
      AND jsonb_typeof(metadata -> 'progress' -> n.status) = 'number'
      AND jsonb_typeof(metadata -> 'progress' -> result_status) = 'number'
      AND jsonb_typeof(metadata -> 'totalCost') = 'number'
      AND NOT EXISTS (SELECT 1 FROM video_production_progress_deltas
                      WHERE pipeline_id = n.pipeline_id);
    IF FOUND THEN
        RETURN;
    END IF;
    PERFORM 1 FROM video_production_pipelines WHERE id = n.pipeline_id
    FOR NO KEY UPDATE SKIP LOCKED;
    IF FOUND THEN
        PERFORM video_progress_fold(n.pipeline_id, n.status, result_status, cost_delta);
        RETURN;
    END IF;
    -- Busy: leave the delta as a row; the caller folds it after the commit that releases the
    -- node row (FOLD_AFTER in db/lifecycle.py), holding nothing.
    INSERT INTO video_production_progress_deltas (pipeline_id, from_status, to_status, cost)
    VALUES (n.pipeline_id, n.status, result_status, cost_delta);
    fold_after := n.pipeline_id;
END $$;
"""

DOWNGRADE = """
DROP FUNCTION IF EXISTS video_lifecycle_apply(uuid, text, uuid, jsonb, text[], jsonb,
    timestamptz, jsonb);
DROP FUNCTION IF EXISTS video_progress_fold(uuid, text, text, numeric);
DROP FUNCTION IF EXISTS video_progress_recount(uuid);
DROP FUNCTION IF EXISTS video_lifecycle_stale_reason(text, uuid, bigint, bigint, text, uuid);
DROP TABLE IF EXISTS video_production_progress_deltas;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
