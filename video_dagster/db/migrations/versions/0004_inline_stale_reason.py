"""The lifecycle gate is inlined into each transition instead of parsed on every call.

Revision ID: 0004
Revises: 0003

`video_lifecycle_stale_reason` was declared IMMUTABLE, but its body calls `format()`, which is
only STABLE; PostgreSQL refuses to inline an IMMUTABLE SQL function whose body is not, and runs
it through the SQL-function executor instead, which parses and plans the body again on every
transition (a third of the server's CPU per transition, measured with perf under
bench/lifecycle.py). Declared STABLE — what it is — the planner inlines it into the plan that
`video_lifecycle_apply` caches.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SIGNATURE = "video_lifecycle_stale_reason(text, uuid, bigint, bigint, text, uuid)"


def upgrade() -> None:
    op.execute(f"ALTER FUNCTION {SIGNATURE} STABLE")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {SIGNATURE} IMMUTABLE")
