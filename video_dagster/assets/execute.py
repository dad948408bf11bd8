"""The one asset body: validate, check readiness, start, execute, wait, finish (DESIGN §6).

Re-execution rule: a run started by our ready-node sensor (tag `video/trigger=auto`) never redoes
a completed node; any other run — a materialization or backfill launched from the UI, or
`video-dagster rerender` — re-executes it, unless it carries the tag `video/force=false`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._utils.interrupts import capture_interrupts

from video_dagster.assets import callbacks
from video_dagster.assets.executors import executor_for
from video_dagster.assets.executors.base import (
    Completed,
    ExecutionContext,
    ExecutionFailed,
    Executor,
    InputNode,
    NodeRow,
    Polling,
    Progress,
    Submitted,
)
from video_dagster.db import validation
from video_dagster.db.lifecycle import DEFAULT_TIMEOUT, Applied, Lifecycle
from video_dagster.domain.configs import ConfigError
from video_dagster.domain.keys import FORCE_TAG, TRIGGER_AUTO, TRIGGER_TAG
from video_dagster.domain.readiness import readiness_reason
from video_dagster.domain.snapshot import NodeSkeleton
from video_dagster.domain.validation import referenced_ids
from video_dagster.resources.providers.base import ProviderError

READ_NODE = sa.text(
    """
    SELECT n.id::text AS id, n.pipeline_id::text AS pipeline_id, n.title, n.type, n.inputs,
           n.config, n.asset, n.status, n.is_valid, n.validation_errors, n.output,
           n.structure_version, p.config AS pipeline_config, n.metadata
    FROM video_production_nodes n JOIN video_production_pipelines p ON p.id = n.pipeline_id
    WHERE n.id = CAST(:id AS uuid)
    """
)
READ_INPUTS = sa.text(
    """
    SELECT id::text AS id, title, type, status, output FROM video_production_nodes
    WHERE pipeline_id = CAST(:pid AS uuid) AND id::text = ANY(:ids)
    """
)
READ_STATE = sa.text(
    "SELECT status, process_uuid::text AS process_uuid, output, metadata "
    "FROM video_production_nodes WHERE id = CAST(:id AS uuid)"
)


def is_forced(tags: dict[str, str]) -> bool:
    """Whether this run re-executes completed nodes (see the module docstring)."""
    if tags.get(FORCE_TAG) in ("false", "0", "no"):
        return False
    return tags.get(TRIGGER_TAG) != TRIGGER_AUTO


def _read(engine: sa.Engine, node_id: str) -> tuple[NodeRow, dict[str, InputNode]]:
    with engine.begin() as conn:
        row = conn.execute(READ_NODE, {"id": node_id}).first()
        if row is None:
            raise Failure(f"node {node_id} no longer exists (reload the code location)",
                          allow_retries=False)
        # Re-validate: the structure may have changed since the sensor looked.
        validation.validate_node(conn, node_id)
        row = conn.execute(READ_NODE, {"id": node_id}).one()
        node = NodeRow(**row._asdict())
        ids = list(referenced_ids(node.type, node.inputs))
        inputs = {
            r.id: InputNode(r.id, r.title, r.type, r.status, r.output)
            for r in conn.execute(READ_INPUTS, {"pid": node.pipeline_id, "ids": ids})
        }
    return node, inputs


def _slots(node: NodeRow, inputs: dict[str, InputNode]) -> dict[str, list[InputNode]]:
    slots: dict[str, list[InputNode]] = {}
    raw = node.inputs if isinstance(node.inputs, dict) else {}
    for slot, value in raw.items():
        refs = value if isinstance(value, list) else [value]
        slots[slot] = [inputs[r] for r in refs if isinstance(r, str) and r in inputs]
    return slots


def _result(node_id: str, process: str | None, output: Any, store: Any,
            cost: Any = None, note: str | None = None) -> MaterializeResult:
    output = output if isinstance(output, dict) else {}  # the column may hold any JSON
    kind = output.get("type")
    meta: dict[str, Any] = {"node_id": node_id,
                            "type": kind if isinstance(kind, str) else "unknown"}
    if process:
        meta["process_uuid"] = process
    if output.get("uri"):
        # The stable URI only: a presigned link would carry the access key id (and, with
        # temporary credentials, the session token) into Dagster's event log for good. Links
        # are made on demand (`ObjectStore.presign`, the CLI's `preview` command).
        meta["dagster/uri"] = MetadataValue.text(str(output["uri"]))
    if isinstance(output.get("size"), int):
        meta["size_bytes"] = output["size"]
    if isinstance(output.get("duration"), int | float):
        meta["duration_seconds"] = float(output["duration"])
    if isinstance(cost, int | float):
        meta["cost_usd"] = float(cost)
    if note:
        meta["note"] = note
    return MaterializeResult(metadata=meta)


def materialize_node(context: AssetExecutionContext, node: NodeSkeleton) -> MaterializeResult:
    """Execute one node as one asset materialization."""
    res = context.resources
    engine = res.database.get_engine()
    lifecycle = Lifecycle(engine)
    store = res.object_store.get_store()
    row, inputs = _read(engine, node.id)
    forced = is_forced(dict(context.run.tags))
    if row.status == "completed" and not forced:
        context.log.info(f"{row.title}: already completed, not redone (run is not forced)")
        return _result(row.id, None, row.output or {}, store, note="already completed")
    status = "pending" if row.status == "completed" else row.status
    reason = readiness_reason(
        status, row.is_valid, {i: (inputs[i].status if i in inputs else None)
                               for i in referenced_ids(row.type, row.inputs)},
        row.validation_errors,
    )
    if reason:
        raise Failure(f"{row.title} is not ready: {reason}", allow_retries=False)
    executor = executor_for(row.type)
    started = lifecycle.started(
        row.id, run_id=context.run.run_id,
        timeout=executor.timeout if executor else DEFAULT_TIMEOUT,
    )
    if not isinstance(started, Applied):
        raise Failure(f"{row.title} could not start: {started.reason}", allow_retries=False)
    process = started.process_uuid
    assert process is not None
    try:
        if executor is None:
            raise ExecutionFailed(f"no executor for {row.type}", "NoExecutor")
        ctx = ExecutionContext(
            node=row, slots=_slots(row, inputs), process_uuid=process, store=store,
            invoker=res.lambda_invoker.get_invoker(), lifecycle=lifecycle, log=context.log,
            deadline=datetime.now(UTC) + executor.timeout,
            providers=_providers(res),
        )
        outcome = executor.run(ctx)
        if isinstance(outcome, Submitted):
            lifecycle.updated(row.id, {"stage": "submitted", **outcome.details}, process)
            return _wait(context, ctx, outcome)
        if isinstance(outcome, Polling):
            # Recorded before waiting: a retry or re-run finds the job and resumes it.
            lifecycle.updated(row.id, {**outcome.details, "job_id": outcome.job_id,
                                       "stage": outcome.stage}, process)
            outcome = _poll(ctx, executor, outcome)
        done = lifecycle.succeeded(row.id, outcome.output, process, cost=outcome.cost)
        if not isinstance(done, Applied):
            raise Failure(f"{row.title}: result discarded, {done.reason}", allow_retries=False)
        return _result(row.id, process, outcome.output, store, outcome.cost)
    except (ExecutionFailed, ProviderError, ConfigError) as exc:
        error_type = (exc.error_type if isinstance(exc, ExecutionFailed) else
                      f"Provider:{exc.code}" if isinstance(exc, ProviderError) else "InvalidConfig")
        lifecycle.failed(row.id, str(exc), process, error_type)
        raise Failure(f"{row.title} failed: {exc}", allow_retries=False) from None
    except Failure:
        raise
    except BaseException as exc:
        # Crashes, cancellation (DagsterExecutionInterruptedError), bugs: never leave it running.
        # Ctrl-C reaches the step twice (SIGINT to the process group, then forwarded by the
        # multiprocess executor): a second interrupt must not abort this write half-way.
        with capture_interrupts():
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if isinstance(exc, DagsterExecutionInterruptedError):
                reason = "the run was interrupted (terminated or its worker stopped)"
            lifecycle.failed(row.id, f"execution aborted: {reason}", process, "Aborted")
        raise


def _providers(res: Any) -> Any:
    """The provider clients, when the location binds a `providers` resource."""
    resource = getattr(res, "providers", None)
    return resource.get_providers() if resource is not None else None


def _poll(ctx: ExecutionContext, executor: Executor, job: Polling) -> Completed:
    """Poll a provider job with growing delays until it completes, fails or passes its deadline;
    stage and progress go to the node's metadata as they change."""
    try:
        return _poll_until_done(ctx, executor, job)
    except DagsterExecutionInterruptedError:
        # The run was terminated: stop the paid job where the provider can.
        with capture_interrupts():
            try:
                executor.cancel(ctx, job)
            except Exception as exc:  # the abort is recorded either way
                ctx.log.warning(f"could not cancel job {job.job_id}: {exc}")
        raise


def _poll_until_done(ctx: ExecutionContext, executor: Executor, job: Polling) -> Completed:
    policy = executor.poll_policy(ctx)
    deadline = min(ctx.deadline, datetime.now(UTC) + timedelta(seconds=policy.timeout))
    delay, shown = policy.interval, (job.stage, None)
    while True:
        seen = executor.poll(ctx, job)
        if isinstance(seen, Completed):
            return seen
        assert isinstance(seen, Progress)
        if (seen.stage, seen.progress) != shown:
            shown = (seen.stage, seen.progress)
            meta: dict[str, Any] = {"stage": seen.stage}
            if seen.progress is not None:
                meta["progress"] = seen.progress
            if not isinstance(ctx.lifecycle.updated(ctx.node.id, meta, ctx.process_uuid),
                              Applied):
                raise Failure(f"{ctx.node.title}: execution superseded (structure changed or "
                              "another execution started)", allow_retries=False)
        if datetime.now(UTC) >= deadline:
            raise ExecutionFailed(
                f"timed out waiting for job {job.job_id} (still {seen.stage} at "
                f"{deadline.isoformat(timespec='seconds')}); a re-run resumes the same job",
                "Timeout")
        time.sleep(delay)
        delay = policy.next(delay)


def _wait(context: AssetExecutionContext, ctx: ExecutionContext,
          submitted: Submitted) -> MaterializeResult:
    """Wait for the row to reach a terminal state, consuming our own callback when it lands."""
    engine = ctx.lifecycle.engine
    delay = 0.2
    while True:
        if ctx.store.exists(submitted.callback_key):
            callbacks.consume(submitted.callback_key, ctx.store, ctx.lifecycle)
        with engine.connect() as conn:
            state = conn.execute(READ_STATE, {"id": ctx.node.id}).first()
        if state is None:
            raise Failure(f"{ctx.node.title} was deleted while running", allow_retries=False)
        if state.process_uuid != ctx.process_uuid:
            raise Failure(f"{ctx.node.title}: execution superseded (structure changed or "
                          "another execution started)", allow_retries=False)
        if state.status == "completed":
            meta = state.metadata or {}
            return _result(ctx.node.id, ctx.process_uuid, state.output or {}, ctx.store,
                           meta.get("cost"))
        if state.status == "failed":
            error = (state.metadata or {}).get("error", "unknown error")
            raise Failure(f"{ctx.node.title} failed: {error}", allow_retries=False)
        if datetime.now(UTC) >= ctx.deadline:
            job = submitted.details.get("lambda") or "the submitted job"
            ctx.lifecycle.failed(
                ctx.node.id,
                f"timed out waiting for {job} to report back "
                f"(deadline {ctx.deadline.isoformat(timespec='seconds')})",
                ctx.process_uuid, "Timeout",
            )
            continue
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
