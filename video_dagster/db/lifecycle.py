"""Row-locked lifecycle transitions: lock, decide, write, audit, commit (DESIGN §5).

Lock rule (issue 7.1) — the editor's transactions are not ours: inserts hold FOR KEY SHARE on
the pipeline row (foreign key), updates and deletes lock node rows in any order, a save may
update the pipeline row before or after its nodes. A deadlock needs a transaction that waits for
a lock while holding one the other side wants, so none of ours ever does that:
1. a transition locks exactly one node row, first, while holding nothing, and waits for no
   lock after that: its audit event and progress delta are rows of our own, without foreign
   keys (an FK check would lock the pipeline row);
2. the pipeline row is always taken FOR NO KEY UPDATE (no conflict with the FK's FOR KEY
   SHARE), and while a node row is held only with SKIP LOCKED: free, the transition folds its
   delta in the same transaction; busy, it records the delta as a row, commits, and folds in a
   second transaction that holds nothing. The recount (the repair, run by validation) also
   holds no node row. Our delta rows are only ever deleted by a holder of the pipeline row;
3. a write to several node rows (validation) takes them with SKIP LOCKED, never waiting while
   holding one, and retries the skipped rows in a later transaction.
Progress and cost are deltas recorded with the transition and folded into
`pipelines.metadata` (O(1) per transition); `video_progress_recount` is the full repair.

The transition itself is one server call (`video_lifecycle_apply`, migration 0002): the
gate is `video_lifecycle_stale_reason` (inlined into it, migration 0004), the SQL twin of
`domain.lifecycle.stale_reason`, checked against it exhaustively by
tests/db/test_lifecycle_sql.py; the metadata patch comes from `domain.lifecycle.metadata_change`.
It runs on a connection of its own autocommit pool (`db.engine.get_autocommit_engine`).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa

from video_dagster.db import engine as db_engine
from video_dagster.domain import lifecycle as domain
from video_dagster.domain.lifecycle import Command, Fail, Start, Succeed, Update

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(minutes=30)

# Run on a raw psycopg connection of the autocommit pool, each its own transaction:
# SQLAlchemy's per-statement overhead would double the client cost of a transition. Results come
# back as text (no uuid objects to build); the deadline and removed keys go as text too.
APPLY = (
    "SELECT applied, result_status, result_process::text, reason, fold_after::text "
    "FROM video_lifecycle_apply(%s::uuid, %s, %s::uuid, %s::jsonb, %s::text[], "
    "%s::jsonb, %s::timestamptz, %s::jsonb)"
)
# The fold of a transition that found its pipeline row busy. It is derived data: a crash loses
# its deletes of delta rows with it, and the next fold applies them, so no WAL flush is awaited.
# An editor transaction holding the pipeline row for long delays progress, not the caller.
FOLD_AFTER = (
    "SELECT set_config('synchronous_commit', 'off', true), "
    "set_config('lock_timeout', '5s', true), video_progress_fold(%s::uuid)"
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


# The canonical form, checked without building a UUID; anything else goes through uuid.UUID.
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# One encoder for every transition (json.dumps(default=...) builds a new one per call).
_JSON = json.JSONEncoder(default=str)


def _is_uuid(value: str | None) -> bool:
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return True
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
        # Transitions run on autocommit connections of their own pool (same URL).
        self.autocommit_engine = db_engine.get_autocommit_engine(
            engine.url.render_as_string(hide_password=False))

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
        run_id: str | None = None,
    ) -> Result:
        """Fail the current execution, or a node that never started when process_uuid is None
        (`run_id`: the run that died before reaching it, recorded as the node's last run)."""
        return self.apply(node_id, Fail(process_uuid, message, self.clock(), error_type, run_id))

    def apply(self, node_id: str, command: Command) -> Result:
        """Run one transition, retrying on a lost connection."""
        if not _is_uuid(node_id):
            return Stale(node_id, "no such node")
        process = getattr(command, "process_uuid", None)
        if process is not None and not _is_uuid(process):
            return Stale(node_id, f"process {process} is not current")
        params = _params(node_id, command)
        for attempt in range(5):
            try:
                row = self._execute(APPLY, params)
            except psycopg.OperationalError:
                # An error means the transition's transaction rolled back: retry it.
                if attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
                continue
            assert row is not None
            applied, status, current, reason, fold_after = row
            if fold_after is not None:
                self._fold(fold_after)
            if not applied:
                if reason != "no such node":
                    log.info("stale %s on node %s: %s", params[1], node_id, reason)
                return Stale(node_id, reason)
            return Applied(node_id, status, current)
        raise AssertionError("unreachable")

    def _execute(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One autocommit statement on a pooled connection; its first row. The pool holds no
        pre-pinged connections: one found dead is dropped from it, and the error raised."""
        raw = self.autocommit_engine.raw_connection()
        try:
            return _cursor(raw).execute(sql, params).fetchone()
        except psycopg.OperationalError:
            if raw.driver_connection is None or raw.driver_connection.broken:
                raw.invalidate()
            raise
        finally:
            raw.close()

    def _fold(self, pipeline_id: Any) -> None:
        # The transition is committed: a failure here must not redo it. Its delta row stays and
        # the next fold or recount applies it.
        try:
            self._execute(FOLD_AFTER, (pipeline_id,))
        except (psycopg.Error, sa.exc.SQLAlchemyError) as exc:
            log.warning("pipeline %s progress left to the next fold: %s", pipeline_id, exc)


def _cursor(raw: Any) -> psycopg.Cursor[Any]:
    """The pooled connection's own cursor, kept across checkouts (one less object per call)."""
    cursor: psycopg.Cursor[Any] | None = raw.info.get("lifecycle_cursor")
    if cursor is None or cursor.closed:
        conn: psycopg.Connection[Any] = raw.driver_connection
        cursor = raw.info["lifecycle_cursor"] = conn.cursor()
    return cursor


def _params(node_id: str, command: Command) -> tuple[Any, ...]:
    patch, remove = domain.metadata_change(command)
    output = _JSON.encode(command.output) if isinstance(command, Succeed) else None
    deadline = command.deadline.isoformat() if isinstance(command, Start) else None
    return (node_id, domain.event_name(command), getattr(command, "process_uuid", None),
            _JSON.encode(patch), _text_array(remove), output, deadline,
            _JSON.encode(_detail(command)))


def _text_array(keys: tuple[str, ...]) -> str:
    """A text[] literal of metadata keys (the domain's own names: plain identifiers)."""
    assert all(key.isidentifier() for key in keys), keys
    return "{" + ",".join(keys) + "}"


def _detail(command: Command) -> dict[str, Any]:
    if isinstance(command, Start):
        return {"run_id": command.run_id, "deadline": command.deadline.isoformat()}
    if isinstance(command, Fail):
        return {"error": command.message, "error_type": command.error_type}
    if isinstance(command, Succeed):
        return {"output_uri": command.output.get("uri"), "cost": command.cost}
    return {"keys": sorted(command.metadata)}
