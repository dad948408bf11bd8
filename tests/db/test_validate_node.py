"""The asset body's check: one node against its inputs (issue 12.2), same verdict as the pass."""

from __future__ import annotations

import sqlalchemy as sa

from tests.db.helpers import make_node, make_pipeline, node_row
from video_dagster.db import validation

MERGE = {"type": "merge-videos", "config": {"provider": "ffmpeg"}}


def _check(engine: sa.Engine, node: str) -> dict[str, str] | None:
    with engine.begin() as conn:
        return validation.validate_node(conn, node)


def _set_inputs(engine: sa.Engine, node: str, inputs: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE video_production_nodes SET inputs = CAST(:i AS jsonb) "
                             "WHERE id = :id"), {"i": inputs, "id": node})


def test_validate_node_agrees_with_the_pipeline_pass(engine):
    pid = make_pipeline(engine)
    a, b = make_node(engine, pid, title="a"), make_node(engine, pid, title="b")
    m1 = make_node(engine, pid, title="m1", inputs={"segments": [a, b]}, **MERGE)
    m2 = make_node(engine, pid, title="m2", inputs={"segments": [m1, a]}, **MERGE)
    assert _check(engine, m2) == {} and node_row(engine, m2).is_valid
    # A cycle through the node (m1 -> m2 -> m1), a missing reference, then repaired.
    _set_inputs(engine, m1, f'{{"segments": ["{a}", "{m2}"]}}')
    errors = _check(engine, m2)
    assert errors and "Cycle detected" in errors["inputs"] and not node_row(engine, m2).is_valid
    validation.validate_changed(engine)
    assert node_row(engine, m2).validation_errors == errors  # the pass's own verdict
    _set_inputs(engine, m2, f'{{"segments": ["{a}", "00000000-0000-4000-8000-000000000000"]}}')
    assert "references non-existent nodes" in _check(engine, m2)["segments"]
    _set_inputs(engine, m2, f'{{"segments": ["{a}", "{b}"]}}')
    assert _check(engine, m2) == {} and node_row(engine, m2).is_valid
    assert _check(engine, "00000000-0000-4000-8000-00000000dead") is None
