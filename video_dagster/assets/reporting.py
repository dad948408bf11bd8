"""What a node's asset reports besides its materialization: check results and failure reasons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from dagster import AssetObservation, Failure

from video_dagster.assets.checks import output_result, valid_result
from video_dagster.domain.snapshot import NodeSkeleton

READ_VERDICT = sa.text(
    "SELECT status, is_valid, validation_errors, output, metadata "
    "FROM video_production_nodes WHERE id = CAST(:id AS uuid)"
)


def check_results(context: Any, node: NodeSkeleton) -> Iterator[Any]:
    """Both checks, from the row as the materialization left it."""
    with context.resources.database.get_engine().connect() as conn:
        row = conn.execute(READ_VERDICT, {"id": node.id}).first()
    key = context.asset_key
    if row is None:
        yield valid_result(key, False, {"node": "was deleted"})
        yield output_result(key, None, None)
        return
    yield valid_result(key, bool(row.is_valid), row.validation_errors or {})
    yield output_result(key, row.output, context.resources.object_store.get_store())


def report_failure(context: Any, node: NodeSkeleton, exc: Failure) -> None:
    """Put the reason on the asset itself (an observation), not only in the run's log."""
    meta: dict[str, Any] = {"status": "failed", "reason": exc.description or str(exc),
                            "node_id": node.id, "dagster_run_id": context.run.run_id}
    try:
        with context.resources.database.get_engine().connect() as conn:
            row = conn.execute(READ_VERDICT, {"id": node.id}).first()
    except Exception:  # the database may be why it failed; the reason above is still shown
        row = None
    if row is not None:
        recorded = (row.metadata or {}).get("error")
        if recorded:
            meta["error"] = str(recorded)
        for slot, message in sorted((row.validation_errors or {}).items()):
            meta[f"invalid: {slot}"] = str(message)
    context.log_event(AssetObservation(asset_key=context.asset_key, metadata=meta,
                                       description=f"{node.title} failed"))
