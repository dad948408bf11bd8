"""Row-locked lifecycle transitions: lock, decide (pure), write, audit, commit (DESIGN §5)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from video_dagster.db import progress
from video_dagster.domain import lifecycle as domain
from video_dagster.domain.lifecycle import Command, Fail, NodeState, Start, Succeed, Update

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(minutes=30)
_RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure

LOCK_NODE = sa.text(
    """
    SELECT pipeline_id, status, process_uuid, structure_version, run_structure_version
    FROM video_production_nodes WHERE id = :id FOR UPDATE
    """
)

WRITE_NODE = sa.text(
    """
    WITH upd AS (
        UPDATE video_production_nodes SET
            status = :status,
            process_uuid = :process_uuid,
            metadata = (coalesce(metadata, '{}'::jsonb) - CAST(:remove AS text[]))
                       || CAST(:patch AS jsonb),
            output = CASE WHEN :set_output THEN CAST(:output AS jsonb) ELSE output END,
            run_structure_version = CASE WHEN :started THEN structure_version
                                         ELSE run_structure_version END,
            attempt = attempt + CASE WHEN :started THEN 1 ELSE 0 END,
            failures = failures + CASE WHEN :failed THEN 1 ELSE 0 END,
            deadline_at = CASE WHEN :keep_deadline THEN deadline_at ELSE :deadline END
        WHERE id = :id
        RETURNING id, pipeline_id, structure_version
    )
    INSERT INTO video_production_node_events
        (node_id, pipeline_id, event, applied, process_uuid, from_status, to_status,
         structure_version, detail)
    SELECT id, pipeline_id, :event, true, CAST(:process_uuid AS uuid), :from_status, :status,
           structure_version, CAST(:detail AS jsonb)
    FROM upd
    """
)

RECORD_STALE = sa.text(
    """
    INSERT INTO video_production_node_events
        (node_id, pipeline_id, event, applied, process_uuid, from_status, to_status,
         structure_version, detail)
    VALUES (:id, :pipeline_id, :event, false, CAST(:process_uuid AS uuid), :status, :status,
            :structure_version, CAST(:detail AS jsonb))
    """
)


@dataclass(frozen=True)
class Applied:
    """The transition was written."""

    node_id: str
    status: str
    process_uuid: str | None
    applied: bool = True


@dataclass(frozen=True)
class Stale:
    """Nothing changed: the execution is not current (or the node is gone)."""

    node_id: str
    reason: str
    applied: bool = False


Result = Applied | Stale


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class Lifecycle:
    """The only writer of execution status; every call is one row-locked transaction."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def started(
        self, node_id: str, run_id: str | None = None, timeout: timedelta = DEFAULT_TIMEOUT
    ) -> Result:
        """Begin a new execution; Applied.process_uuid is its id."""
        now = self.clock()
        return self.apply(node_id, Start(str(uuid.uuid4()), run_id, now, now + timeout))

    def updated(self, node_id: str, metadata: Mapping[str, Any], process_uuid: str) -> Result:
        """Merge metadata into the current execution."""
        return self.apply(node_id, Update(process_uuid, metadata))

    def succeeded(
        self,
        node_id: str,
        output: Mapping[str, Any],
        process_uuid: str,
        cost: float | None = None,
    ) -> Result:
        """Complete the current execution."""
        return self.apply(node_id, Succeed(process_uuid, output, self.clock(), cost))

    def failed(
        self,
        node_id: str,
        message: str,
        process_uuid: str | None = None,
        error_type: str | None = None,
    ) -> Result:
        """Fail the current execution, or a node that never started when process_uuid is None."""
        return self.apply(node_id, Fail(process_uuid, message, self.clock(), error_type))

    def apply(self, node_id: str, command: Command) -> Result:
        """Run one transition, retrying on deadlock or serialization failure."""
        if not _is_uuid(node_id):
            return Stale(node_id, "no such node")
        process = getattr(command, "process_uuid", None)
        if process is not None and not _is_uuid(process):
            return Stale(node_id, f"process {process} is not current")
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    return self._apply(conn, node_id, command)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code not in _RETRYABLE or attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _apply(self, conn: sa.Connection, node_id: str, command: Command) -> Result:
        row = conn.execute(LOCK_NODE, {"id": node_id}).first()
        if row is None:
            return Stale(node_id, "no such node")
        state = NodeState(
            status=row.status,
            process_uuid=str(row.process_uuid) if row.process_uuid else None,
            structure_version=row.structure_version,
            run_structure_version=row.run_structure_version,
        )
        decision = domain.decide(state, command)
        event = domain.event_name(command)
        if decision.write is None:
            reason = decision.stale_reason or "stale"
            conn.execute(
                RECORD_STALE,
                {
                    "id": node_id,
                    "pipeline_id": row.pipeline_id,
                    "event": event,
                    "process_uuid": getattr(command, "process_uuid", None),
                    "status": state.status,
                    "structure_version": state.structure_version,
                    "detail": json.dumps({"reason": reason}),
                },
            )
            log.info("stale %s on node %s: %s", event, node_id, reason)
            return Stale(node_id, reason)
        write = decision.write
        conn.execute(
            WRITE_NODE,
            {
                "id": node_id,
                "status": write.status,
                "process_uuid": write.process_uuid,
                "remove": list(write.metadata_remove),
                "patch": json.dumps(write.metadata_patch, default=str),
                "set_output": write.set_output,
                "output": json.dumps(write.output, default=str) if write.set_output else None,
                "started": write.started,
                "failed": write.failed,
                "keep_deadline": write.keep_deadline,
                "deadline": write.deadline,
                "event": event,
                "from_status": state.status,
                "detail": json.dumps(_detail(command), default=str),
            },
        )
        if write.status != state.status or "cost" in write.metadata_patch:
            progress.refresh(conn, str(row.pipeline_id))
        return Applied(node_id, write.status, write.process_uuid)


def _detail(command: Command) -> dict[str, Any]:
    if isinstance(command, Start):
        return {"run_id": command.run_id, "deadline": command.deadline.isoformat()}
    if isinstance(command, Fail):
        return {"error": command.message, "error_type": command.error_type}
    if isinstance(command, Succeed):
        return {"output_uri": command.output.get("uri"), "cost": command.cost}
    return {"keys": sorted(command.metadata)}
