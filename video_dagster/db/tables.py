"""SQLAlchemy Core tables mirroring the Alembic migrations (for queries, not for DDL)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = sa.MetaData()

pipelines = sa.Table(
    "video_production_pipelines",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("config", JSONB, nullable=False),
    sa.Column("metadata", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

nodes = sa.Table(
    "video_production_nodes",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("pipeline_id", UUID(as_uuid=False), sa.ForeignKey(pipelines.c.id), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("inputs", JSONB, nullable=False),
    sa.Column("config", JSONB, nullable=False),
    sa.Column("asset", JSONB),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("metadata", JSONB),
    sa.Column("output", JSONB),
    sa.Column("is_valid", sa.Boolean, nullable=False),
    sa.Column("validation_errors", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Orchestrator bookkeeping (this project owns these).
    sa.Column("structure_version", sa.BigInteger, nullable=False),
    sa.Column("validated_version", sa.BigInteger, nullable=False),
    sa.Column("process_uuid", UUID(as_uuid=False)),
    sa.Column("run_structure_version", sa.BigInteger),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("deadline_at", sa.DateTime(timezone=True)),
    sa.Column("estimated_cost", sa.Numeric),
)

node_events = sa.Table(
    "video_production_node_events",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("node_id", UUID(as_uuid=False), nullable=False),
    sa.Column("pipeline_id", UUID(as_uuid=False), nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("applied", sa.Boolean, nullable=False),
    sa.Column("process_uuid", UUID(as_uuid=False)),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text),
    sa.Column("structure_version", sa.BigInteger),
    sa.Column("detail", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

revalidation_queue = sa.Table(
    "video_production_revalidation_queue",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("pipeline_id", UUID(as_uuid=False), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
