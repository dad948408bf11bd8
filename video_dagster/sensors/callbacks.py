"""Callback sensor: apply Lambda completion reports and record materializations nobody waits for."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from dagster import (
    AssetKey,
    AssetMaterialization,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from video_dagster.assets import callbacks as reports
from video_dagster.assets import lambda_failures
from video_dagster.db.lifecycle import Applied, Lifecycle
from video_dagster.domain.keys import asset_key_path
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.object_store import ObjectStore, ObjectStoreResource

log = logging.getLogger(__name__)

CALLBACKS_INTERVAL_SECONDS = 15
CALLBACK_LIMIT = 200
# Stop consuming early so a slow store or database cannot push the tick near Dagster's 60 s limit.
CALLBACK_TIME_BUDGET_SECONDS = 30.0

READ_NODES = sa.text(
    """
    SELECT id::text AS node_id, pipeline_id::text AS pipeline_id, status, output, metadata,
           type AS node_type
    FROM video_production_nodes WHERE id = ANY(CAST(:ids AS uuid[]))
    """
)


@dataclass(frozen=True)
class NodeAfter:
    """A node's row after its callback was applied."""

    node_id: str
    pipeline_id: str
    status: str
    output: Any
    metadata: Any
    node_type: str

    @property
    def run_id(self) -> str | None:
        """The Dagster run that started the execution, if any."""
        meta = self.metadata if isinstance(self.metadata, dict) else {}
        value = meta.get("dagster_run_id")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class CallbackDecision:
    """Counts for the log and the runless materializations to record."""

    asset_events: list[AssetMaterialization]
    applied: int = 0
    stale: int = 0
    malformed: int = 0
    gone: int = 0
    run_waiting: int = 0
    not_in_graph: list[AssetKey] = field(default_factory=list)


def succeeded_ids(consumed: Sequence[reports.Consumed]) -> list[str]:
    """Nodes a consumed report completed."""
    return [
        c.node_uuid for c in consumed
        if c.node_uuid and isinstance(c.outcome, Applied) and c.outcome.status == "completed"
    ]


def materialization(node: NodeAfter, key: AssetKey) -> AssetMaterialization:
    """The catalog entry for an output that arrived with no run waiting for it."""
    output = node.output if isinstance(node.output, dict) else {}
    meta = node.metadata if isinstance(node.metadata, dict) else {}
    values = {
        "dagster/uri": output.get("uri"),
        "size": output.get("size"),
        "duration": output.get("duration"),
        "cost": meta.get("cost"),
        "process_uuid": meta.get("process_uuid"),
    }
    return AssetMaterialization(
        asset_key=key,
        description="completed by a callback; no Dagster run was waiting for it",
        metadata={k: v for k, v in values.items() if isinstance(v, str | int | float)},
    )


def decide(
    consumed: Sequence[reports.Consumed],
    nodes: Mapping[str, NodeAfter],
    live_runs: frozenset[str],
    known_keys: frozenset[AssetKey],
) -> CallbackDecision:
    """Count outcomes; a success whose run is gone becomes a runless materialization (pure)."""
    events: list[AssetMaterialization] = []
    counts = {"applied": 0, "stale": 0, "malformed": 0, "gone": 0, "run_waiting": 0}
    not_in_graph: list[AssetKey] = []
    for item in consumed:
        if item.node_uuid is None and item.outcome is None and item.problem == "already consumed":
            counts["gone"] += 1
        elif item.problem is not None:
            counts["malformed"] += 1
        elif item.applied:
            counts["applied"] += 1
        else:
            counts["stale"] += 1
    for node_id in dict.fromkeys(succeeded_ids(consumed)):
        node = nodes.get(node_id)
        if node is None or node.status != "completed":
            continue  # deleted or edited since: nothing left to record
        if node.run_id is not None and node.run_id in live_runs:
            counts["run_waiting"] += 1  # that run's asset returns the MaterializeResult itself
            continue
        key = AssetKey(asset_key_path(node.pipeline_id, node.node_id, node.node_type))
        if key in known_keys:
            events.append(materialization(node, key))
        else:
            not_in_graph.append(key)
    return CallbackDecision(events, not_in_graph=not_in_graph, **counts)


def consume_pending(
    store: ObjectStore, lifecycle: Lifecycle, limit: int, budget: float
) -> list[reports.Consumed]:
    """Apply and delete waiting callback objects in key order, within the time budget."""
    started = time.monotonic()
    consumed = []
    for key in reports.pending_keys(store, limit):
        if time.monotonic() - started > budget:
            break
        try:
            consumed.append(reports.consume(key, store, lifecycle))
        except Exception as exc:
            # One object (or a passing outage) must never stop the objects after it; the object
            # stays, so the next tick tries it again.
            log.warning("callback %r not consumed: %s: %s", key, type(exc).__name__, exc)
            consumed.append(reports.Consumed(key, None, None,
                                             f"not consumed: {type(exc).__name__}: {exc}"[:500]))
    # media (issue 7.8): AWS on-failure records of our Lambdas end their executions too.
    consumed += lambda_failures.consume_pending(store, lifecycle, limit)
    return consumed


def read_nodes(engine: sa.Engine, node_ids: Sequence[str]) -> dict[str, NodeAfter]:
    """The rows of the given nodes."""
    if not node_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(READ_NODES, {"ids": list(node_ids)})
        return {r.node_id: NodeAfter(**r._asdict()) for r in rows}


def live_run_ids(context: SensorEvaluationContext, run_ids: Sequence[str]) -> frozenset[str]:
    """Those of `run_ids` whose run exists and has not finished."""
    if not run_ids:
        return frozenset()
    records = context.instance.get_run_records(
        RunsFilter(run_ids=list(run_ids), statuses=NOT_FINISHED_STATUSES)
    )
    return frozenset(r.dagster_run.run_id for r in records)


def build_callbacks_sensor(
    known_keys: frozenset[AssetKey],
    limit: int = CALLBACK_LIMIT,
    interval: int = CALLBACKS_INTERVAL_SECONDS,
    budget: float = CALLBACK_TIME_BUDGET_SECONDS,
) -> SensorDefinition:
    """The callback sensor for the graph that holds `known_keys`."""

    @sensor(
        name="video_callbacks_sensor",
        minimum_interval_seconds=interval,
        default_status=DefaultSensorStatus.RUNNING,
        description="Applies Lambda completion reports written under callbacks/.",
    )
    def video_callbacks_sensor(
        context: SensorEvaluationContext,
        database: DatabaseResource,
        object_store: ObjectStoreResource,
    ) -> SensorResult:
        engine = database.get_engine()
        consumed = consume_pending(object_store.get_store(), database.lifecycle(), limit, budget)
        if not consumed:
            return SensorResult(skip_reason="no callbacks waiting")
        nodes = read_nodes(engine, succeeded_ids(consumed))
        runs = [n.run_id for n in nodes.values() if n.run_id]
        decision = decide(consumed, nodes, live_run_ids(context, runs), known_keys)
        context.log.info(
            f"consumed {len(consumed)} callback(s): {decision.applied} applied, "
            f"{decision.stale} stale, {decision.malformed} malformed, {decision.gone} already "
            f"consumed; {decision.run_waiting} with a run waiting, "
            f"{len(decision.asset_events)} runless materialization(s)"
        )
        for item in consumed:
            if item.problem and item.problem != "already consumed":
                kept = f" (kept as {item.quarantined})" if item.quarantined else ""
                context.log.warning(f"rejected callback {item.key!r}: {item.problem}{kept}")
        if decision.not_in_graph:
            context.log.info(
                "not in the loaded graph, no materialization recorded: "
                + ", ".join(k.to_user_string() for k in decision.not_in_graph)
            )
        return SensorResult(asset_events=decision.asset_events)

    return video_callbacks_sensor
