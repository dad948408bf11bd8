"""What a node's asset reports besides its materialization: check results and failure reasons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from dagster import AssetObservation, Failure, MaterializeResult, MetadataValue
from dagster_shared.record import replace

from video_dagster.assets.checks import output_result, valid_result
from video_dagster.assets.thumbnails import poster_markdown
from video_dagster.domain.snapshot import NodeSkeleton
from video_dagster.preview import preview_link

READ_VERDICT = sa.text(
    "SELECT n.status, n.is_valid, n.validation_errors, n.output, n.metadata, "
    "p.metadata AS pipeline_metadata "
    "FROM video_production_nodes n JOIN video_production_pipelines p ON p.id = n.pipeline_id "
    "WHERE n.id = CAST(:id AS uuid)"
)


def finish(context: Any, node: NodeSkeleton, result: MaterializeResult | None) -> Iterator[Any]:
    """The materialization with what an operator opens first, then both checks."""
    with context.resources.database.get_engine().connect() as conn:
        row = conn.execute(READ_VERDICT, {"id": node.id}).first()
    result = result or MaterializeResult()
    key = context.asset_key
    if row is None:
        yield result
        yield valid_result(key, False, {"node": "was deleted"})
        yield output_result(key, None, None)
        return
    store = context.resources.object_store.get_store()
    extra = output_links(store, node, row.output) | pipeline_totals(row.pipeline_metadata)
    yield replace(result, metadata={**(result.metadata or {}), **extra})
    yield valid_result(key, bool(row.is_valid), row.validation_errors or {})
    yield output_result(key, row.output, store)


def output_links(store: Any, node: NodeSkeleton, output: Any) -> dict[str, Any]:
    """A preview link (through `dev`'s loopback server) and a poster frame for video/image."""
    out = output if isinstance(output, dict) else {}
    key = out.get("s3Key")
    if not isinstance(key, str) or not key:
        return {}
    meta: dict[str, Any] = {}
    link = preview_link(key)
    if link:
        meta["preview"] = MetadataValue.url(link)
    if out.get("type") in ("video", "image"):
        try:
            poster = poster_markdown(store, key, node.title)
        except Exception:  # a poster is a convenience; the output check reports real problems
            poster = None
        if poster:
            meta["poster"] = MetadataValue.md(poster)
    return meta


def pipeline_totals(pipeline_metadata: Any) -> dict[str, Any]:
    """The pipeline's progress and cost, on every node's materialization."""
    meta = pipeline_metadata if isinstance(pipeline_metadata, dict) else {}
    progress = meta.get("progress") if isinstance(meta.get("progress"), dict) else {}
    out: dict[str, Any] = {}
    if progress:
        out["pipeline_progress"] = (
            f"{progress.get('completed', 0)}/{progress.get('total', 0)} completed, "
            f"{progress.get('in_progress', 0)} running, {progress.get('failed', 0)} failed")
    for field, name in (("totalCost", "pipeline_cost_usd"),
                        ("estimatedTotalCost", "pipeline_estimated_cost_usd")):
        if isinstance(meta.get(field), int | float):
            out[name] = float(meta[field])
    return out


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
