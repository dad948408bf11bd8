"""Deadline reaper: fail executions in progress past their deadline (lost callbacks, hangs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from dagster import (
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from video_dagster.db.lifecycle import Applied
from video_dagster.resources.database import DatabaseResource

REAPER_INTERVAL_SECONDS = 30
REAPER_LIMIT = 200
TIMEOUT_ERROR = "Timeout"

# Served by the partial index ix_nodes_in_progress_deadline (deadline_at WHERE in_progress).
EXPIRED = sa.text(
    """
    SELECT id::text AS node_id, process_uuid::text AS process_uuid, deadline_at
    FROM video_production_nodes
    WHERE status = 'in_progress' AND deadline_at < now()
    ORDER BY deadline_at
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class Expired:
    """An execution past its deadline."""

    node_id: str
    process_uuid: str | None
    deadline_at: datetime


@dataclass(frozen=True)
class Reap:
    """One failure to write."""

    node_id: str
    process_uuid: str | None
    message: str


def decide(expired: Sequence[Expired]) -> list[Reap]:
    """One failure per expired execution, naming its deadline (pure)."""
    return [
        Reap(e.node_id, e.process_uuid, f"execution exceeded its deadline "
             f"({e.deadline_at.isoformat()}) without reporting back")
        for e in expired
    ]


def fetch_expired(engine: sa.Engine, limit: int) -> list[Expired]:
    """Oldest deadlines first."""
    with engine.connect() as conn:
        return [Expired(**r._asdict()) for r in conn.execute(EXPIRED, {"limit": limit})]


def build_deadline_reaper_sensor(
    limit: int = REAPER_LIMIT, interval: int = REAPER_INTERVAL_SECONDS
) -> SensorDefinition:
    """The deadline reaper."""

    @sensor(
        name="video_deadline_reaper_sensor",
        minimum_interval_seconds=interval,
        default_status=DefaultSensorStatus.RUNNING,
        description="Fails executions that are past their deadline without a result.",
    )
    def video_deadline_reaper_sensor(
        context: SensorEvaluationContext, database: DatabaseResource
    ) -> SensorResult:
        reaps = decide(fetch_expired(database.get_engine(), limit))
        if not reaps:
            return SensorResult(skip_reason="no execution past its deadline")
        lifecycle = database.lifecycle()
        applied = 0
        for reap in reaps:
            # Stale means it finished (or was superseded) since we looked: nothing to do.
            outcome = lifecycle.failed(reap.node_id, reap.message, reap.process_uuid,
                                       TIMEOUT_ERROR)
            if isinstance(outcome, Applied):
                applied += 1
                context.log.warning(f"node {reap.node_id}: {reap.message}")
        context.log.info(f"{len(reaps)} execution(s) past deadline: {applied} failed, "
                         f"{len(reaps) - applied} already finished")
        return SensorResult()

    return video_deadline_reaper_sensor
