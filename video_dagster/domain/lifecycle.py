"""Pure decisions for execution lifecycle transitions (DESIGN §5).

Each transition is decided from the node's locked state alone. A mismatch is *stale*: nothing
changes and the caller is told why. Stricter than the minimum contract, on purpose:
- `updated` and `succeeded` need the execution to be current and still `in_progress`;
- `failed` with a process_uuid also needs `in_progress`, so a late error report can never turn
  a completed node into a failed one; `failed` without one matches only a node with no live
  execution (pending, or failed already): how a run that died before reaching it reports;
- `started` is refused while another execution is `in_progress` (the reaper and the run-failure
  sensor end abandoned executions, after which a new one may start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Status = Literal["pending", "in_progress", "completed", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "in_progress", "completed", "failed")


@dataclass(frozen=True)
class NodeState:
    """The lifecycle-relevant columns of one locked node row."""

    status: str
    process_uuid: str | None
    structure_version: int
    run_structure_version: int | None


@dataclass(frozen=True)
class Start:
    """Begin an execution under a new process id."""

    process_uuid: str
    run_id: str | None
    now: datetime
    deadline: datetime


@dataclass(frozen=True)
class Update:
    """Merge progress metadata into the current execution."""

    process_uuid: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class Succeed:
    """Complete the current execution with its output."""

    process_uuid: str
    output: Mapping[str, Any]
    now: datetime
    cost: float | None = None


@dataclass(frozen=True)
class Fail:
    """End the current execution (or a never-started node) as failed."""

    process_uuid: str | None
    message: str
    now: datetime
    error_type: str | None = None
    run_id: str | None = None  # a run that failed the node without starting it


Command = Start | Update | Succeed | Fail


@dataclass(frozen=True)
class Write:
    """What to write when a transition applies."""

    status: str
    process_uuid: str | None
    metadata_patch: dict[str, Any]
    metadata_remove: tuple[str, ...] = ()
    output: Mapping[str, Any] | None = None
    set_output: bool = False
    started: bool = False
    failed: bool = False
    deadline: datetime | None = None
    keep_deadline: bool = True


@dataclass(frozen=True)
class Decision:
    """Either a write (applied) or a reason it was stale."""

    write: Write | None
    stale_reason: str | None = None

    @property
    def applied(self) -> bool:
        """True when the transition changes the node."""
        return self.write is not None


def event_name(command: Command) -> str:
    """The audit event name of a command."""
    return {Start: "started", Update: "updated", Succeed: "succeeded", Fail: "failed"}[
        type(command)
    ]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _current(state: NodeState, process_uuid: str | None) -> str | None:
    """Why `process_uuid` is not the node's current execution, or None when it is."""
    if state.process_uuid is None:
        return "node has no execution in progress"
    if process_uuid != state.process_uuid:
        return f"process {process_uuid} is not current (current: {state.process_uuid})"
    if state.run_structure_version != state.structure_version:
        return "execution started on an older structure version"
    return None


def stale_reason(state: NodeState, command: Command) -> str | None:
    """Why `command` does not apply to a node in `state`, or None when it does.

    Mirrored in SQL by `video_lifecycle_stale_reason` (migration 0002), which the lifecycle runs
    under the row lock; tests/db/test_lifecycle_sql.py checks the two agree on every case.
    """
    if isinstance(command, Start):
        if state.status == "in_progress":
            return f"node is already in progress (process {state.process_uuid})"
        return None
    if isinstance(command, Fail) and command.process_uuid is None:
        # No live execution to name: a node never started, or one whose last execution already
        # ended in failure (a retry run that died before reaching it). Never a running or
        # completed node.
        if state.status not in ("pending", "failed"):
            return f"node is {state.status}; a failure must name its process"
        return None
    reason = _current(state, command.process_uuid)
    if reason is None and state.status != "in_progress":
        reason = f"node is {state.status}, not in_progress"
    return reason


def metadata_change(command: Command) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The metadata patch and removed keys of an applied command (Start adds its version)."""
    if isinstance(command, Start):
        patch: dict[str, Any] = {
            "process_uuid": command.process_uuid,
            "started_at": _iso(command.now),
            "stage": "started",
        }
        if command.run_id:
            patch["dagster_run_id"] = command.run_id
        return patch, ("error", "error_type", "completed_at", "job_id")
    if isinstance(command, Update):
        return dict(command.metadata), ()
    if isinstance(command, Succeed):
        patch = {"completed_at": _iso(command.now), "stage": "completed"}
        if command.cost is not None:
            patch["cost"] = command.cost
        return patch, ()
    patch = {"error": command.message, "completed_at": _iso(command.now), "stage": "failed"}
    if command.error_type:
        patch["error_type"] = command.error_type
    if command.run_id:
        patch["dagster_run_id"] = command.run_id
    return patch, ()


def decide(state: NodeState, command: Command) -> Decision:
    """Decide a lifecycle transition for a locked node."""
    reason = stale_reason(state, command)
    if reason is not None:
        return Decision(None, reason)
    patch, remove = metadata_change(command)
    if isinstance(command, Start):
        return Decision(
            Write(
                status="in_progress",
                process_uuid=command.process_uuid,
                metadata_patch={**patch, "structure_version": state.structure_version},
                metadata_remove=remove,
                started=True,
                deadline=command.deadline,
                keep_deadline=False,
            )
        )
    if isinstance(command, Update):
        return Decision(
            Write(status=state.status, process_uuid=state.process_uuid, metadata_patch=patch)
        )
    if isinstance(command, Succeed):
        return Decision(
            Write(
                status="completed",
                process_uuid=state.process_uuid,
                metadata_patch=patch,
                output=dict(command.output),
                set_output=True,
                deadline=None,
                keep_deadline=False,
            )
        )
    return Decision(
        Write(
            status="failed",
            process_uuid=state.process_uuid,
            metadata_patch=patch,
            failed=True,
            deadline=None,
            keep_deadline=False,
        )
    )
