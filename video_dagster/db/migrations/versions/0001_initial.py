"""Pipelines, nodes, audit events, revalidation queue, structure-version triggers.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE video_production_pipelines (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version text NOT NULL DEFAULT '1.0',
    title text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE video_production_nodes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pipeline_id uuid NOT NULL
        REFERENCES video_production_pipelines(id) ON DELETE CASCADE,
    title text NOT NULL,
    type text NOT NULL,
    inputs jsonb NOT NULL DEFAULT '{}'::jsonb,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    asset jsonb,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed')),
    metadata jsonb,
    output jsonb,
    is_valid boolean NOT NULL DEFAULT false,
    validation_errors jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Orchestrator bookkeeping: maintained by the triggers below and the lifecycle.
    structure_version bigint NOT NULL DEFAULT 1,
    validated_version bigint NOT NULL DEFAULT 0,
    process_uuid uuid,
    run_structure_version bigint,
    attempt integer NOT NULL DEFAULT 0,
    failures integer NOT NULL DEFAULT 0,
    deadline_at timestamptz,
    estimated_cost numeric
);

CREATE INDEX ix_nodes_pipeline_status ON video_production_nodes (pipeline_id, status);
CREATE INDEX ix_nodes_needs_validation ON video_production_nodes (pipeline_id)
    WHERE validated_version < structure_version;
CREATE INDEX ix_nodes_ready_candidates ON video_production_nodes (pipeline_id)
    WHERE status IN ('pending', 'failed') AND is_valid;
CREATE INDEX ix_nodes_in_progress_deadline ON video_production_nodes (deadline_at)
    WHERE status = 'in_progress';

CREATE TABLE video_production_node_events (
    id bigserial PRIMARY KEY,
    node_id uuid NOT NULL,
    pipeline_id uuid NOT NULL,
    event text NOT NULL,
    applied boolean NOT NULL,
    process_uuid uuid,
    from_status text,
    to_status text,
    structure_version bigint,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ix_node_events_node ON video_production_node_events (node_id, id);

CREATE TABLE video_production_revalidation_queue (
    id bigserial PRIMARY KEY,
    pipeline_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

FUNCTIONS = """
-- Any writer (the editor included) that changes a structure column bumps the structure
-- version, resets the node to pending and detaches the running execution, which makes it stale.
CREATE FUNCTION video_nodes_before_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.structure_version := 1;
        NEW.validated_version := 0;
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    IF NEW.type IS DISTINCT FROM OLD.type
       OR NEW.inputs IS DISTINCT FROM OLD.inputs
       OR NEW.config IS DISTINCT FROM OLD.config
       OR NEW.asset IS DISTINCT FROM OLD.asset THEN
        NEW.structure_version := OLD.structure_version + 1;
        NEW.status := 'pending';
        NEW.process_uuid := NULL;
        NEW.run_structure_version := NULL;
        NEW.deadline_at := NULL;
        NEW.failures := 0;
        INSERT INTO video_production_node_events
            (node_id, pipeline_id, event, applied, process_uuid, from_status, to_status,
             structure_version)
        VALUES (NEW.id, NEW.pipeline_id, 'structure_changed', true, OLD.process_uuid,
                OLD.status, 'pending', NEW.structure_version);
    ELSE
        -- Only this trigger moves the structure version.
        NEW.structure_version := OLD.structure_version;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER video_nodes_before_write
    BEFORE INSERT OR UPDATE ON video_production_nodes
    FOR EACH ROW EXECUTE FUNCTION video_nodes_before_write();

-- A node appearing or disappearing can change its siblings' validity (references, cycles).
CREATE FUNCTION video_nodes_queue_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO video_production_revalidation_queue (pipeline_id)
        SELECT DISTINCT pipeline_id FROM new_rows;
    RETURN NULL;
END $$;

CREATE FUNCTION video_nodes_queue_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO video_production_revalidation_queue (pipeline_id)
        SELECT DISTINCT pipeline_id FROM old_rows;
    RETURN NULL;
END $$;

CREATE TRIGGER video_nodes_after_insert
    AFTER INSERT ON video_production_nodes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION video_nodes_queue_inserted();

CREATE TRIGGER video_nodes_after_delete
    AFTER DELETE ON video_production_nodes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION video_nodes_queue_deleted();

CREATE FUNCTION video_pipelines_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER video_pipelines_touch
    BEFORE UPDATE ON video_production_pipelines
    FOR EACH ROW EXECUTE FUNCTION video_pipelines_touch();

CREATE FUNCTION video_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'video_production_node_events is append-only';
END $$;

CREATE TRIGGER video_events_append_only
    BEFORE UPDATE OR DELETE ON video_production_node_events
    FOR EACH ROW EXECUTE FUNCTION video_events_append_only();
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS video_production_revalidation_queue;
        DROP TABLE IF EXISTS video_production_node_events;
        DROP TABLE IF EXISTS video_production_nodes;
        DROP TABLE IF EXISTS video_production_pipelines;
        DROP FUNCTION IF EXISTS video_nodes_before_write();
        DROP FUNCTION IF EXISTS video_nodes_queue_inserted();
        DROP FUNCTION IF EXISTS video_nodes_queue_deleted();
        DROP FUNCTION IF EXISTS video_pipelines_touch();
        DROP FUNCTION IF EXISTS video_events_append_only();
        """
    )
