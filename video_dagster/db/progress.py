"""Pipeline progress and cost roll-ups: the full recount (the repair) and the delta fold."""

from __future__ import annotations

import sqlalchemy as sa

# Both are SQL functions (migration 0002). A transition records its delta and folds it itself;
# the recount rebuilds the roll-up from the node rows and discards the deltas it covered, which
# heals whatever the editor changed meanwhile (inserts, deletes, structure resets).
RECOUNT = sa.text("SELECT video_progress_recount(CAST(:pid AS uuid))")
FOLD = sa.text("SELECT video_progress_fold(CAST(:pid AS uuid))")


def refresh(conn: sa.Connection, pipeline_id: str) -> None:
    """Rewrite a pipeline's progress, totalCost and estimatedTotalCost from its node rows.

    Lock rule (db/lifecycle.py): call it in a transaction holding no node row lock, unless the
    caller is an editing command (it plays the editor's part, which our locks never cycle with).
    """
    conn.execute(RECOUNT, {"pid": pipeline_id})


def recount(engine: sa.Engine, pipeline_id: str) -> None:
    """The repair in its own transaction."""
    with engine.begin() as conn:
        refresh(conn, pipeline_id)
