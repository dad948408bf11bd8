"""The README's retry sentence matches what the ready-node query does (one automatic retry)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from video_dagster.cli import EXAMPLES_DIR
from video_dagster.db import transfer
from video_dagster.sensors.ready import MAX_AUTO_RETRIES, fetch_ready

README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_failed_node_is_retried_automatically_once(engine):
    import json

    with engine.begin() as conn:
        pid = transfer.import_pipeline(conn, json.loads(
            (EXAMPLES_DIR / "text_assets.json").read_text()))
        nid = conn.execute(sa.text(
            "SELECT id::text FROM video_production_nodes WHERE pipeline_id = :p AND is_valid "
            "ORDER BY id LIMIT 1"), {"p": pid}).scalar_one()

    def ready_after(failures: int) -> bool:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE video_production_nodes SET status = 'failed', "
                                 "failures = :f WHERE id = CAST(:n AS uuid)"),
                         {"f": failures, "n": nid})
        page = fetch_ready(engine, None, 100, MAX_AUTO_RETRIES)
        return nid in {n.node_id for n in page.nodes}

    assert ready_after(1)  # first attempt failed: one automatic retry
    assert not ready_after(2)  # the retry failed too: an operator decides
    assert "retried automatically once" in " ".join(README.read_text().split())
