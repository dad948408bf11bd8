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

import psycopg
import sqlalchemy as sa
from psycopg import sql
from psycopg.pq import TransactionStatus

from video_dagster.db import progress
from video_dagster.domain import lifecycle as domain
from video_dagster.domain.lifecycle import Command, Fail, NodeState, Start, Succeed, Update

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(minutes=30)

# psycopg statements, run on the pooled connection's raw driver connection: SQLAlchemy's
# per-statement overhead would double the client cost of a transition. (psycopg's pipeline mode
# was measured too: it cost more client CPU than its saved round trips on a local socket.)
LOCK_NODE = sql.SQL("""
    BEGIN;
    SELECT pipeline_id::text, status, process_uuid::text, structure_version,
           run_structure_version, metadata -> 'cost' AS cost
    FROM video_production_nodes WHERE id = {}::uuid FOR UPDATE
""")

WRITE_NODE = """
    WITH upd AS (
        UPDATE video_production_nodes SET
            status = %(status)s,
            process_uuid = %(process_uuid)s::uuid,
            metadata = (coalesce(metadata, '{}'::jsonb) - %(remove)s::text[])
                       || %(patch)s::jsonb,
            output = CASE WHEN %(set_output)s THEN %(output)s::jsonb ELSE output END,
            run_structure_version = CASE WHEN %(started)s THEN structure_version
                                         ELSE run_structure_version END,
            attempt = attempt + CASE WHEN %(started)s THEN 1 ELSE 0 END,
            failures = failures + CASE WHEN %(failed)s THEN 1 ELSE 0 END,
            deadline_at = CASE WHEN %(keep_deadline)s THEN deadline_at
                               ELSE %(deadline)s::timestamptz END
        WHERE id = %(id)s::uuid
        RETURNING id, pipeline_id, structure_version
    )
    INSERT INTO video_production_node_events
        (node_id, pipeline_id, event, applied, process_uuid, from_status, to_status,
         structure_version, detail)
    SELECT id, pipeline_id, %(event)s, true, %(event_process)s::uuid, %(from_status)s,
           %(status)s, structure_version, %(detail)s::jsonb
    FROM upd
"""

RECORD_STALE = """
    INSERT INTO video_production_node_events
        (node_id, pipeline_id, event, applied, process_uuid, from_status, to_status,
         structure_version, detail)
    VALUES (%(id)s::uuid, %(pipeline_id)s::uuid, %(event)s, false, %(process_uuid)s::uuid,
            %(status)s, %(status)s, %(structure_version)s, %(detail)s::jsonb)
"""

# The same write, also taking the pipeline's row lock (referenced, so the CTE runs).
WRITE_NODE_LOCK_PIPELINE = WRITE_NODE.replace(
    "    )\n    INSERT INTO video_production_node_events",
    "    ), pipe AS (\n        SELECT id AS locked FROM video_production_pipelines\n"
    "        WHERE id = %(pid)s::uuid FOR UPDATE\n    )\n"
    "    INSERT INTO video_production_node_events",
    1,
).replace("    FROM upd\n", "    FROM upd CROSS JOIN pipe\n")
RECOUNT_AND_COMMIT = sql.SQL(progress.RECOUNT.text.replace(":pid", "{pid}::uuid") + "; COMMIT")


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
        """Run one transition, retrying on deadlock, serialization failure or a lost connection."""
        if not _is_uuid(node_id):
            return Stale(node_id, "no such node")
        process = getattr(command, "process_uuid", None)
        if process is not None and not _is_uuid(process):
            return Stale(node_id, f"process {process} is not current")
        for attempt in range(5):
            raw = self.engine.raw_connection()
            try:
                return self._apply(raw.driver_connection, node_id, command)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if attempt == 4:
                    raise
            except psycopg.OperationalError:
                # The pool holds no pre-pinged connections: a dead one is dropped and retried.
                raw.invalidate()
                if attempt == 4:
                    raise
            finally:
                raw.close()
            time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _apply(self, conn: psycopg.Connection[Any], node_id: str, command: Command) -> Result:
        # Explicit BEGIN/COMMIT travel in the same round trip as the first and last statements
        # (simple-query batches with safely quoted literals): three round trips per transition.
        conn.autocommit = True
        try:
            cur = conn.execute(LOCK_NODE.format(sql.Literal(node_id)))
            cur.nextset()
            row = cur.fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return Stale(node_id, "no such node")
            pipeline_id, status, current, version, run_version, cost = row
            state = NodeState(status, current, version, run_version)
            decision = domain.decide(state, command)
            event = domain.event_name(command)
            if decision.write is None:
                reason = decision.stale_reason or "stale"
                conn.execute(RECORD_STALE, {
                    "id": node_id, "pipeline_id": pipeline_id, "event": event,
                    "process_uuid": getattr(command, "process_uuid", None),
                    "status": status, "structure_version": version,
                    "detail": json.dumps({"reason": reason}),
                })
                conn.execute("COMMIT")
                log.info("stale %s on node %s: %s", event, node_id, reason)
                return Stale(node_id, reason)
            write = decision.write
            params = _write_params(node_id, event, status, write, command)
            if write.status != status or write.metadata_patch.get("cost", cost) != cost:
                # Lock the pipeline in the write itself; the recount is a later statement, so
                # its snapshot includes every transition committed before we got the lock.
                conn.execute(WRITE_NODE_LOCK_PIPELINE, {**params, "pid": pipeline_id})
                conn.execute(RECOUNT_AND_COMMIT.format(pid=sql.Literal(pipeline_id)))
            else:
                conn.execute(WRITE_NODE, params)
                conn.execute("COMMIT")
            return Applied(node_id, write.status, write.process_uuid)
        except BaseException:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            raise
        finally:
            if not conn.closed:
                conn.autocommit = False


def _write_params(
    node_id: str, event: str, from_status: str, write: domain.Write, command: Command
) -> dict[str, Any]:
    return {
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
        # The audit row names the process the command spoke for (None for a process-less fail).
        "event_process": getattr(command, "process_uuid", None),
        "from_status": from_status,
        "detail": json.dumps(_detail(command), default=str),
    }


def _detail(command: Command) -> dict[str, Any]:
    if isinstance(command, Start):
        return {"run_id": command.run_id, "deadline": command.deadline.isoformat()}
    if isinstance(command, Fail):
        return {"error": command.message, "error_type": command.error_type}
    if isinstance(command, Succeed):
        return {"output_uri": command.output.get("uri"), "cost": command.cost}
    return {"keys": sorted(command.metadata)}
