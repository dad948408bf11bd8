"""Structure changes NOTIFY `video_structure`, so the graph refresher wakes instead of polling.

Statement-level triggers: one notification per statement (PostgreSQL folds identical ones of a
transaction into one, delivered at commit), whoever writes — the editor included.

Revision ID: 0003
Revises: 0001
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION video_structure_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('video_structure', '');
    RETURN NULL;
END $$;

CREATE TRIGGER video_nodes_structure_notify
    AFTER INSERT OR DELETE OR UPDATE OF pipeline_id, title, type, inputs, config
    ON video_production_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION video_structure_notify();

CREATE TRIGGER video_pipelines_structure_notify
    AFTER INSERT OR DELETE OR UPDATE OF title ON video_production_pipelines
    FOR EACH STATEMENT EXECUTE FUNCTION video_structure_notify();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER IF EXISTS video_nodes_structure_notify ON video_production_nodes;
        DROP TRIGGER IF EXISTS video_pipelines_structure_notify ON video_production_pipelines;
        DROP FUNCTION IF EXISTS video_structure_notify();
        """
    )
