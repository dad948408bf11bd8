"""Ready-node sensor: one run per pipeline for the ready nodes and their downstream closure.

A node is ready when it is valid and its inputs are completed. The run also selects every valid,
pending (or retryable) node that waits only on nodes of the same run: Dagster orders the steps,
so a whole pipeline runs in one run instead of one run (and one sensor tick) per level; a failed
upstream makes Dagster skip its downstream steps, which stay pending for a later run.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from dagster import (
    AssetKey,
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from video_dagster.assets.translator import TAG_PIPELINE_ID, tag_value
from video_dagster.db.validation import validate_changed
from video_dagster.domain.keys import ASSET_KEY_PREFIX, TRIGGER_AUTO, TRIGGER_TAG, asset_key_path
from video_dagster.resources.database import DatabaseResource

# The daemon starts a round of sensor ticks every second (cli/dagster_daemon.py; Dagster's own
# daemon: every 5 s); 1 s means every round. The queries are index-backed
# (ix_nodes_ready_candidates, ix_nodes_needs_validation): idle ticks are cheap.
READY_INTERVAL_SECONDS = 1
VALIDATE_LIMIT = 200  # pipelines validated per tick before looking for ready nodes
READY_LIMIT = 500  # nodes requested per tick
# Candidates (pending/failed, valid) checked per tick: checking inputs costs ~10-20 us each, so a
# window keeps the tick bounded however many nodes wait; the cursor walks the rest next ticks.
READY_SCAN_LIMIT = 2500
MAX_AUTO_RETRIES = 2
EXECUTOR_TAG = "video/executor"
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
IN_FLIGHT_RUN_LIMIT = 1000
PIPELINE_TITLE_TAG = "video/pipeline_title"
AUTO = TRIGGER_AUTO
NIL_UUID = "00000000-0000-0000-0000-000000000000"
# The text form PostgreSQL gives a uuid: only such a reference can name a node, so a lookup by
# primary key after this check equals a text comparison and a junk string never reaches the cast.
UUID_TEXT_RE = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

def unfinished_refs(alias: str) -> str:
    """FROM…WHERE over the references of node `alias` that do not name a completed node of its
    pipeline: string, non-blank (as domain.validation.referenced_ids), both single-slot shapes.
    Each lookup is a scalar subquery, so it stays one primary-key probe per reference."""
    return r"""
        jsonb_each(CASE jsonb_typeof(@.inputs) WHEN 'object' THEN @.inputs
                   ELSE '{}'::jsonb END) AS slot(name, value)
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE jsonb_typeof(slot.value) WHEN 'array' THEN slot.value
                 ELSE jsonb_build_array(slot.value) END) AS ref(value)
        WHERE jsonb_typeof(ref.value) = 'string' AND (ref.value #>> '{}') ~ '\S'
          AND NOT coalesce((
              SELECT i.status = 'completed' AND i.pipeline_id = @.pipeline_id
              FROM video_production_nodes i
              WHERE i.id = CASE WHEN (ref.value #>> '{}') ~ :uuid_re
                                THEN CAST(ref.value #>> '{}' AS uuid) END), false)
    """.replace("@.", f"{alias}.")


# One statement. `cand` repeats the predicate of ix_nodes_ready_candidates so the planner uses that
# partial index, and takes a window of candidates after the cursor in (pipeline_id, id) order.
# `ready`: no string, non-blank reference (as in domain.validation.referenced_ids; both single-slot
# shapes) fails to name a completed node of the same pipeline. The lookup is a scalar subquery so
# that it stays one primary-key probe per reference. The last scanned row is always returned (even
# when not ready) so the caller knows where the window ended.
READY_NODES = sa.text(
    r"""
    WITH cand AS MATERIALIZED (
        SELECT n.id, n.pipeline_id, n.type, n.inputs, n.structure_version, n.attempt, n.failures
        FROM video_production_nodes n
        WHERE n.status IN ('pending', 'failed') AND n.is_valid
          AND (n.status = 'pending' OR n.failures < :max_failures)
          AND n.validated_version = n.structure_version
          AND n.pipeline_id >= CAST(:after_p AS uuid)
          AND (n.pipeline_id > CAST(:after_p AS uuid) OR n.id > CAST(:after_n AS uuid))
        ORDER BY n.pipeline_id, n.id
        LIMIT :scan_limit
    ), checked AS (
        SELECT c.*, row_number() OVER (ORDER BY c.pipeline_id, c.id) AS pos,
               count(*) OVER () AS scanned,
               NOT EXISTS (SELECT 1 FROM @UNFINISHED_C@) AS ready
        FROM cand c
    )
    SELECT k.pipeline_id::text AS pipeline_id, k.id::text AS node_id, p.title AS pipeline_title,
           k.structure_version, k.attempt, k.failures, k.ready, k.scanned, k.type AS node_type
    FROM checked k JOIN video_production_pipelines p ON p.id = k.pipeline_id
    WHERE k.ready OR k.pos = k.scanned
    ORDER BY k.pipeline_id, k.id
    """.replace("@UNFINISHED_C@", unfinished_refs("c"))
)

# The nodes node `n` still waits on (deduplicated); a junk reference is waited on for ever.
WAITING_ON = "ARRAY(SELECT DISTINCT ref.value #>> '{}' FROM " + unfinished_refs("n") + ")"
# Every candidate of the given pipelines (the predicate of READY_NODES' `cand`, so the same
# partial index) with what it waits on; a ready node waits on nothing.
DOWNSTREAM = sa.text(
    f"""
    SELECT n.pipeline_id::text AS pipeline_id, n.id::text AS node_id, n.structure_version,
           n.attempt, n.failures, n.type AS node_type, {WAITING_ON} AS waiting_on
    FROM video_production_nodes n
    WHERE n.pipeline_id = ANY(CAST(:pids AS uuid[]))
      AND n.status IN ('pending', 'failed') AND n.is_valid
      AND (n.status = 'pending' OR n.failures < :max_failures)
      AND n.validated_version = n.structure_version
    """
)


@dataclass(frozen=True)
class ReadyNode:
    """One node the database says may start now."""

    pipeline_id: str
    node_id: str
    pipeline_title: str
    structure_version: int
    attempt: int
    failures: int
    node_type: str

    @property
    def key(self) -> AssetKey:
        """Its asset key `video/<pipeline_id>/<kind>_<node_id>`."""
        return AssetKey(asset_key_path(self.pipeline_id, self.node_id, self.node_type))


@dataclass(frozen=True)
class Downstream:
    """A candidate that may join a run once every node it waits on is selected in that run."""

    node: ReadyNode
    waiting_on: frozenset[str]
    """Node ids of its inputs that are not completed yet."""


@dataclass(frozen=True)
class ReadyPage:
    """The ready nodes of one scan window and where that window ended."""

    nodes: list[ReadyNode]
    scanned: int = 0
    last_scanned: str = ""
    """`<pipeline_id>/<node_id>` of the last candidate checked."""
    downstream: dict[str, list[Downstream]] = field(default_factory=dict)
    """Per pipeline with ready nodes: its candidates that wait on other nodes."""


@dataclass(frozen=True)
class ReadyDecision:
    """Runs to request, keys held back (and why), and the cursor for the next tick."""

    run_requests: list[RunRequest]
    cursor: str
    waiting_for_reload: list[AssetKey] = field(default_factory=list)
    already_requested: list[AssetKey] = field(default_factory=list)
    downstream: int = 0
    """How many of the requested nodes are downstream of the ready ones (not ready yet)."""


def parse_cursor(cursor: str | None) -> tuple[str, str]:
    """`<pipeline_id>/<node_id>` of the last node seen, or the start for anything else."""
    pipeline, _, node = (cursor or "").partition("/")
    try:
        return str(uuid.UUID(pipeline)), str(uuid.UUID(node))
    except ValueError:
        return NIL_UUID, NIL_UUID


def run_key(pipeline_id: str, nodes: Iterable[ReadyNode]) -> str:
    """Deterministic per node set and execution state: a run_key is never reused by Dagster."""
    parts = sorted((n.node_id, n.structure_version, n.attempt, n.failures) for n in nodes)
    text = "|".join(f"{n}:{v}:{a}:{f}" for n, v, a, f in parts)
    return f"video-ready:{pipeline_id}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def decide(
    page: ReadyPage,
    known_keys: frozenset[AssetKey],
    in_flight: frozenset[AssetKey],
    limit: int,
    scan_limit: int,
) -> ReadyDecision:
    """Group requestable nodes into one RunRequest per pipeline; advance the cursor (pure)."""
    nodes = page.nodes[:limit]
    if len(page.nodes) > limit:
        next_cursor = f"{nodes[-1].pipeline_id}/{nodes[-1].node_id}"  # the rest on the next tick
    elif page.scanned >= scan_limit:
        next_cursor = page.last_scanned  # a full window: more candidates follow
    else:
        next_cursor = ""  # reached the end: start over
    unknown = [n.key for n in nodes if n.key not in known_keys]
    busy = [n.key for n in nodes if n.key in known_keys and n.key in in_flight]
    by_pipeline: dict[str, list[ReadyNode]] = {}
    for node in nodes:
        if node.key in known_keys and node.key not in in_flight:
            by_pipeline.setdefault(node.pipeline_id, []).append(node)
    room = limit - sum(len(group) for group in by_pipeline.values())
    added = 0
    for pid, group in sorted(by_pipeline.items()):
        extra = downstream_closure(group, page.downstream.get(pid, []), known_keys, in_flight,
                                   room - added)
        group.extend(extra)
        added += len(extra)
    requests = [
        RunRequest(
            run_key=run_key(pid, group),
            asset_selection=sorted((n.key for n in group), key=lambda k: k.path),
            run_config=IN_PROCESS if in_process(group) else {},
            tags={
                TRIGGER_TAG: AUTO,
                TAG_PIPELINE_ID: pid,
                PIPELINE_TITLE_TAG: tag_value(group[0].pipeline_title) or "untitled",
                EXECUTOR_TAG: "in_process" if in_process(group) else "multiprocess",
            },
        )
        for pid, group in sorted(by_pipeline.items())
    ]
    return ReadyDecision(requests, next_cursor, unknown, busy, added)


def in_process(nodes: list[ReadyNode]) -> bool:
    """Whether a run executes in its worker process rather than a process per step.

    Asset nodes take milliseconds, a step process costs ~1-4 s here (bench/reaction.py), so
    they run in-process one after the other. Anything that waits (a provider job, a Lambda) runs
    in a process of its own so that waits overlap — unless it is the run's only such node.
    """
    return sum(1 for n in nodes if n.node_type != "asset") <= 1


def downstream_closure(
    roots: list[ReadyNode],
    candidates: list[Downstream],
    known_keys: frozenset[AssetKey],
    in_flight: frozenset[AssetKey],
    room: int,
) -> list[ReadyNode]:
    """Candidates that wait only on `roots` or on each other, in dependency order (pure)."""
    # Kahn's walk from the roots: a candidate joins when the last node it waits on joined.
    # Unknown or in-flight candidates never join, so neither does anything waiting on them.
    selected = {n.node_id for n in roots}
    left: dict[str, int] = {}
    dependents: dict[str, list[Downstream]] = {}
    for cand in candidates:
        if (cand.node.node_id in selected or not cand.waiting_on
                or cand.node.key not in known_keys or cand.node.key in in_flight):
            continue
        left[cand.node.node_id] = len(cand.waiting_on)
        for node_id in cand.waiting_on:
            dependents.setdefault(node_id, []).append(cand)
    joined: list[ReadyNode] = []
    frontier = sorted(selected)
    while frontier and len(joined) < room:
        next_frontier = []
        for node_id in frontier:
            for cand in dependents.get(node_id, ()):
                left[cand.node.node_id] -= 1
                if left[cand.node.node_id] == 0 and len(joined) < room:
                    joined.append(cand.node)
                    next_frontier.append(cand.node.node_id)
        frontier = sorted(next_frontier)
    return joined


def fetch_ready(
    engine: sa.Engine, cursor: str | None, scan_limit: int, max_failures: int
) -> ReadyPage:
    """Ready nodes among the next `scan_limit` candidates after the cursor."""
    after_p, after_n = parse_cursor(cursor)
    params = {"after_p": after_p, "after_n": after_n, "scan_limit": scan_limit,
              "max_failures": max_failures, "uuid_re": UUID_TEXT_RE}
    with engine.connect() as conn:
        rows = conn.execute(READY_NODES, params).all()
        nodes = [
            ReadyNode(r.pipeline_id, r.node_id, r.pipeline_title, r.structure_version, r.attempt,
                      r.failures, r.node_type)
            for r in rows if r.ready
        ]
        titles = {n.pipeline_id: n.pipeline_title for n in nodes}
        downstream: dict[str, list[Downstream]] = {}
        if titles:
            for r in conn.execute(DOWNSTREAM, {"pids": sorted(titles), "uuid_re": UUID_TEXT_RE,
                                               "max_failures": max_failures}):
                if r.waiting_on:
                    node = ReadyNode(r.pipeline_id, r.node_id, titles[r.pipeline_id],
                                     r.structure_version, r.attempt, r.failures, r.node_type)
                    downstream.setdefault(r.pipeline_id, []).append(
                        Downstream(node, frozenset(r.waiting_on)))
    if not rows:
        return ReadyPage([])
    last = rows[-1]
    return ReadyPage(nodes, last.scanned, f"{last.pipeline_id}/{last.node_id}", downstream)


def in_flight_keys(context: SensorEvaluationContext, limit: int) -> frozenset[AssetKey]:
    """Asset keys selected by runs not finished yet (queued ones included), from any trigger."""
    records = context.instance.get_run_records(
        RunsFilter(statuses=NOT_FINISHED_STATUSES), limit=limit
    )
    if len(records) >= limit:
        context.log.warning(f"{limit}+ runs in flight: only the newest {limit} were checked")
    return frozenset(
        key
        for record in records
        for key in (record.dagster_run.asset_selection or ())
        if key.path[:1] == [ASSET_KEY_PREFIX]
    )


def build_ready_nodes_sensor(
    known_keys: frozenset[AssetKey],
    limit: int = READY_LIMIT,
    scan_limit: int = READY_SCAN_LIMIT,
    max_auto_retries: int = MAX_AUTO_RETRIES,
    interval: int = READY_INTERVAL_SECONDS,
) -> SensorDefinition:
    """The ready-node sensor for the graph that holds `known_keys`."""

    @sensor(
        name="video_ready_nodes_sensor",
        minimum_interval_seconds=interval,
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=AssetSelection.key_prefixes([ASSET_KEY_PREFIX]),
        description="Starts every valid node whose inputs are completed: one run per pipeline.",
    )
    def video_ready_nodes_sensor(
        context: SensorEvaluationContext, database: DatabaseResource
    ) -> SensorResult:
        engine = database.get_engine()
        # Validate what changed first (as the validation sensor does; both are idempotent), so a
        # pipeline written since the last tick starts in this tick rather than the next one.
        validated = validate_changed(engine, VALIDATE_LIMIT)
        if validated:
            context.log.info(f"validated {len(validated)} changed pipeline(s) first")
        page = fetch_ready(engine, context.cursor, scan_limit, max_auto_retries)
        busy = in_flight_keys(context, IN_FLIGHT_RUN_LIMIT) if page.nodes else frozenset()
        decision = decide(page, known_keys, busy, limit, scan_limit)
        if decision.waiting_for_reload:
            shown = ", ".join(k.to_user_string() for k in decision.waiting_for_reload[:20])
            context.log.info(
                f"{len(decision.waiting_for_reload)} ready node(s) are not in the loaded graph "
                f"yet, waiting for a graph reload: {shown}"
            )
        if decision.already_requested:
            context.log.info(f"{len(decision.already_requested)} ready node(s) already have a "
                             "run in flight")
        for request in decision.run_requests:
            context.log.info(
                f"requesting {len(request.asset_selection or [])} node(s) of pipeline "
                f"{request.tags[TAG_PIPELINE_ID]} ({request.run_key})"
            )
        if decision.downstream:
            context.log.info(f"{decision.downstream} of them wait on nodes of the same run")
        if not decision.run_requests:
            return SensorResult(
                skip_reason=f"{page.scanned} candidate(s) checked, {len(page.nodes)} ready, "
                "none to request",
                cursor=decision.cursor,
            )
        return SensorResult(run_requests=decision.run_requests, cursor=decision.cursor)

    return video_ready_nodes_sensor
