"""Run-failure sensor: end the executions of failed or canceled runs, and orphaned ones.

Runs are found through the event log (failure and cancel events, by storage id), so UI runs and
backfill runs, which carry no pipeline tag, are covered: the database says which in-progress
nodes recorded one of those runs in `metadata.dagster_run_id`.

A run's failure touches only nodes it was responsible for and that are still live: an execution
it started that is still current (the lifecycle checks the process id), or — for an auto run —
a selected node with no live execution whose last recorded run is older than this one (run
storage ids order runs by creation). A process-less failure records its run, so an older run
processed later never matches again, and it keeps the node's recorded error in front.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import sqlalchemy as sa
from dagster import (
    AssetKey,
    DagsterEventType,
    DefaultSensorStatus,
    RunsFilter,
    RunStatusChangeRecordsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.storage.dagster_run import FINISHED_STATUSES

from video_dagster.db.lifecycle import Applied
from video_dagster.domain.keys import node_id_of_key
from video_dagster.resources.database import DatabaseResource
from video_dagster.sensors.ready import AUTO, TRIGGER_TAG, UUID_TEXT_RE, WAITING_ON

RUN_FAILURE_INTERVAL_SECONDS = 30
RUN_EVENT_LIMIT = 100  # per event type per tick
ORPHAN_LIMIT = 200
ORPHAN_GRACE = timedelta(minutes=5)
FINISHED = frozenset(s.value for s in FINISHED_STATUSES)
EVENT_STATUS = {DagsterEventType.RUN_FAILURE: "FAILURE", DagsterEventType.RUN_CANCELED: "CANCELED"}

RUNNING_FOR_RUNS = sa.text(
    """
    SELECT id::text AS node_id, process_uuid::text AS process_uuid,
           metadata->>'dagster_run_id' AS run_id
    FROM video_production_nodes
    WHERE status = 'in_progress' AND metadata->>'dagster_run_id' = ANY(:run_ids)
    """
)
# A run that died before reaching a node leaves it pending with the same run_key inputs, and a
# run_key is never reused: failing it (failures + 1) lets the ready sensor try again. Only nodes
# with no live execution; `decide` keeps those whose last recorded run is older than the run.
# `waiting_on` tells a node Dagster skipped (an upstream of the same run did not complete: it
# stays pending for the run that follows) from one the run died before reaching.
NOT_LIVE = sa.text(
    f"""
    SELECT n.id::text AS node_id, n.metadata ->> 'dagster_run_id' AS last_run,
           n.metadata ->> 'error' AS error, n.metadata ->> 'error_type' AS error_type,
           {WAITING_ON} AS waiting_on
    FROM video_production_nodes n
    WHERE n.id = ANY(CAST(:ids AS uuid[])) AND n.status IN ('pending', 'failed')
    """
)
RETRY_NOTE = " (then retry run "
# Quiet in-progress executions tied to a run, visited in id order across ticks.
ORPHAN_CANDIDATES = sa.text(
    """
    SELECT id::text AS node_id, process_uuid::text AS process_uuid,
           metadata->>'dagster_run_id' AS run_id
    FROM video_production_nodes
    WHERE status = 'in_progress' AND metadata ? 'dagster_run_id'
      AND updated_at < now() - make_interval(secs => :grace) AND id > CAST(:after AS uuid)
    ORDER BY id
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class Cursor:
    """Last failure and cancel event seen, and where the orphan sweep stopped."""

    failure: int = 0
    canceled: int = 0
    orphan_after: str = "00000000-0000-0000-0000-000000000000"

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        """Read a cursor; anything unreadable starts over (every action is idempotent)."""
        try:
            raw = json.loads(text or "{}")
            return cls(int(raw.get("failure", 0)), int(raw.get("canceled", 0)),
                       str(raw.get("orphan_after") or cls.orphan_after))
        except (ValueError, TypeError, AttributeError):
            return cls()

    def to_json(self) -> str:
        """Serialize."""
        return json.dumps(self.__dict__, sort_keys=True)


@dataclass(frozen=True)
class EndedRun:
    """A run that failed or was canceled."""

    run_id: str
    status: str
    message: str
    auto: bool = False
    node_ids: tuple[str, ...] = ()
    storage_id: int = 0  # creation order among runs of this instance


@dataclass(frozen=True)
class Running:
    """An in-progress execution and the run recorded for it."""

    node_id: str
    process_uuid: str | None
    run_id: str


@dataclass(frozen=True)
class NotLive:
    """A selected node with no live execution, and the last run and error it recorded."""

    node_id: str
    last_run: str | None = None
    error: str | None = None
    error_type: str | None = None
    waiting_on: Sequence[str] = ()  # its inputs that are not completed


@dataclass(frozen=True)
class Observed:
    """What one tick read from the instance and the database."""

    ended: Sequence[EndedRun] = ()
    last_failure: int | None = None
    last_canceled: int | None = None
    running: Sequence[Running] = ()
    never_started: Sequence[NotLive] = ()
    run_order: dict[str, int] = field(default_factory=dict)  # storage id of recorded runs
    orphans: Sequence[Running] = ()
    orphan_statuses: dict[str, str] = field(default_factory=dict)
    orphan_page_full: bool = False


@dataclass(frozen=True)
class NodeFailure:
    """One lifecycle failure to write."""

    node_id: str
    process_uuid: str | None
    message: str
    error_type: str
    run_id: str | None = None  # recorded on the node by a process-less failure


def node_ids_of(keys: Sequence[AssetKey] | frozenset[AssetKey] | None) -> tuple[str, ...]:
    """Node ids from node asset keys (`video/<pipeline>/<kind>_<node>`)."""
    return tuple(n for k in keys or () if (n := node_id_of_key(k.path)) is not None)


def decide(cursor: Cursor, observed: Observed) -> tuple[list[NodeFailure], Cursor]:
    """Failures to write and the next cursor (pure)."""
    runs = {r.run_id: r for r in observed.ended}
    failures = [
        NodeFailure(n.node_id, n.process_uuid,
                    f"Dagster run {n.run_id} {runs[n.run_id].status}: {runs[n.run_id].message}",
                    "RunFailed")
        for n in observed.running if n.run_id in runs
    ]
    for node in observed.never_started:
        run = responsible_run(node, observed.ended, observed.run_order)
        if run is None or set(node.waiting_on) & set(run.node_ids):
            continue  # not this run's, or skipped behind an upstream of the same run
        note = f"{run.run_id} {run.status} before the node started: {run.message}"
        if node.error:  # never replace a recorded reason with a less precise one
            kept = node.error.split(RETRY_NOTE)[0]
            failures.append(NodeFailure(node.node_id, None, f"{kept}{RETRY_NOTE}{note})",
                                        node.error_type or "RunFailed", run.run_id))
        else:
            failures.append(NodeFailure(node.node_id, None, f"Dagster run {note}", "RunFailed",
                                        run.run_id))
    seen = {f.node_id for f in failures}
    for orphan in observed.orphans:
        status = observed.orphan_statuses.get(orphan.run_id)
        if orphan.node_id in seen or (status is not None and status not in FINISHED):
            continue
        state = "is unknown to this Dagster instance" if status is None else f"ended {status}"
        failures.append(NodeFailure(
            orphan.node_id, orphan.process_uuid,
            f"Dagster run {orphan.run_id} {state} but the node was still in_progress: "
            "no execution is waiting for it any more", "RunLost"))
    after = observed.orphans[-1].node_id if observed.orphan_page_full else Cursor.orphan_after
    return failures, replace(
        cursor,
        failure=max(cursor.failure, observed.last_failure or 0),
        canceled=max(cursor.canceled, observed.last_canceled or 0),
        orphan_after=after,
    )


def responsible_run(node: NotLive, ended: Sequence[EndedRun], run_order: dict[str, int]
                    ) -> EndedRun | None:
    """The newest ended auto run that selected the node after the last run it recorded."""
    if node.last_run is not None and node.last_run not in run_order:
        return None  # its last run is unknown here: no way to tell which came first
    after = run_order.get(node.last_run or "", -1)
    runs = [r for r in ended if r.auto and node.node_id in r.node_ids and r.storage_id > after
            and r.run_id != node.last_run]
    return max(runs, key=lambda r: r.storage_id, default=None)


def fetch_ended(
    context: SensorEvaluationContext, cursor: Cursor, limit: int
) -> tuple[list[EndedRun], int | None, int | None]:
    """Failure and cancel events after the cursor, with their runs' selections and tags."""
    events: dict[str, tuple[str, str]] = {}
    last: dict[DagsterEventType, int | None] = {}
    for event_type, after in ((DagsterEventType.RUN_FAILURE, cursor.failure),
                              (DagsterEventType.RUN_CANCELED, cursor.canceled)):
        result = context.instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(event_type, after_storage_id=after),
            limit=limit, ascending=True,
        )
        last[event_type] = result.records[-1].storage_id if result.records else None
        for record in result.records:
            entry = record.event_log_entry
            message = (entry.dagster_event.message if entry.dagster_event else None) \
                or entry.user_message or "the run ended before the node reported a result"
            events[record.run_id] = (EVENT_STATUS[event_type], message)
    if not events:
        return [], None, None
    records = {r.dagster_run.run_id: r for r in context.instance.get_run_records(
        RunsFilter(run_ids=list(events)))}
    ended = []
    for run_id, (status, message) in events.items():
        record = records.get(run_id)
        run = record.dagster_run if record else None
        ended.append(EndedRun(
            run_id, status, message,
            auto=run is not None and run.tags.get(TRIGGER_TAG) == AUTO,
            node_ids=node_ids_of(run.asset_selection if run else None),
            storage_id=record.storage_id if record else 0))
    return ended, last[DagsterEventType.RUN_FAILURE], last[DagsterEventType.RUN_CANCELED]


def fetch(context: SensorEvaluationContext, engine: sa.Engine, cursor: Cursor, limit: int,
          orphan_limit: int, grace: timedelta) -> Observed:
    """Everything `decide` needs, from the instance and the database."""
    ended, last_failure, last_canceled = fetch_ended(context, cursor, limit)
    auto_ids = sorted({n for r in ended if r.auto for n in r.node_ids if _is_uuid(n)})
    with engine.connect() as conn:
        running = [Running(**r._asdict()) for r in conn.execute(
            RUNNING_FOR_RUNS, {"run_ids": [r.run_id for r in ended]})] if ended else []
        never = [NotLive(**r._asdict()) for r in conn.execute(
            NOT_LIVE, {"ids": auto_ids, "uuid_re": UUID_TEXT_RE})] \
            if auto_ids else []
        orphans = [Running(**r._asdict()) for r in conn.execute(ORPHAN_CANDIDATES, {
            "grace": grace.total_seconds(), "after": cursor.orphan_after, "limit": orphan_limit})]
    run_ids = sorted({o.run_id for o in orphans} | {n.last_run for n in never if n.last_run})
    records = context.instance.get_run_records(RunsFilter(run_ids=run_ids)) if run_ids else []
    statuses = {r.dagster_run.run_id: r.dagster_run.status.value for r in records}
    order = {r.dagster_run.run_id: r.storage_id for r in records}
    order.update((r.run_id, r.storage_id) for r in ended if r.storage_id)
    return Observed(ended, last_failure, last_canceled, running, never, order, orphans,
                    statuses, orphan_page_full=len(orphans) >= orphan_limit)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def build_run_failure_sensor(
    limit: int = RUN_EVENT_LIMIT,
    orphan_limit: int = ORPHAN_LIMIT,
    grace: timedelta = ORPHAN_GRACE,
    interval: int = RUN_FAILURE_INTERVAL_SECONDS,
) -> SensorDefinition:
    """The run-failure reconciliation sensor."""

    @sensor(
        name="video_run_failure_sensor",
        minimum_interval_seconds=interval,
        default_status=DefaultSensorStatus.RUNNING,
        description="Fails nodes left in progress by failed, canceled or lost Dagster runs.",
    )
    def video_run_failure_sensor(
        context: SensorEvaluationContext, database: DatabaseResource
    ) -> SensorResult:
        cursor = Cursor.parse(context.cursor)
        observed = fetch(context, database.get_engine(), cursor, limit, orphan_limit, grace)
        failures, next_cursor = decide(cursor, observed)
        lifecycle = database.lifecycle()
        applied = 0
        for failure in failures:
            outcome = lifecycle.failed(failure.node_id, failure.message, failure.process_uuid,
                                       failure.error_type, run_id=failure.run_id)
            if isinstance(outcome, Applied):
                applied += 1
                context.log.warning(f"node {failure.node_id}: {failure.message}")
        summary = (f"{len(observed.ended)} failed/canceled run(s), "
                   f"{len(observed.orphans)} quiet execution(s) checked: {applied} node(s) failed")
        if not failures:
            return SensorResult(skip_reason=summary, cursor=next_cursor.to_json())
        context.log.info(summary)
        return SensorResult(cursor=next_cursor.to_json())

    return video_run_failure_sensor
