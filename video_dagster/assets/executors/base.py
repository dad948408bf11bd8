"""What an executor is given and what it returns."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from video_dagster.db.lifecycle import Lifecycle
from video_dagster.resources.lambda_invoker import LambdaInvoker
from video_dagster.resources.object_store import ObjectStore
from video_dagster.resources.providers.base import PollPolicy


class ExecutionFailed(Exception):
    """A clear, user-facing reason the node cannot be produced."""

    def __init__(self, message: str, error_type: str = "ExecutionFailed") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class InputNode:
    """One completed upstream node as seen by an executor."""

    id: str
    title: str
    type: str
    status: str
    output: dict[str, Any] | None


@dataclass(frozen=True)
class NodeRow:
    """The node being executed, as read at the start of the execution."""

    id: str
    pipeline_id: str
    title: str
    type: str
    inputs: Any
    config: Any
    asset: Any
    status: str
    is_valid: bool
    validation_errors: dict[str, str]
    output: dict[str, Any] | None
    structure_version: int
    pipeline_config: dict[str, Any]
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class ExecutionContext:
    """Everything an executor may use; it never touches the database directly."""

    node: NodeRow
    slots: dict[str, list[InputNode]]
    process_uuid: str
    store: ObjectStore
    invoker: LambdaInvoker
    lifecycle: Lifecycle
    log: logging.Logger | Any
    deadline: datetime
    # The provider clients (resources/providers Providers); None where no provider is bound.
    providers: Any = None

    def output_key(self, name: str) -> str:
        """`pipelines/<p>/nodes/<n>/<name>`."""
        from video_dagster.domain.keys import node_output_key

        return node_output_key(self.node.pipeline_id, self.node.id, name)


@dataclass(frozen=True)
class Completed:
    """Finished in-process with this output."""

    output: dict[str, Any]
    cost: float | None = None


@dataclass(frozen=True)
class Submitted:
    """Handed to asynchronous work that reports through `callback_key`."""

    callback_key: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Polling:
    """Submitted to (or resumed on) a provider job that the asset polls through `poll`.

    `details` are merged into the node's metadata together with `job_id` and `stage` before the
    first poll, so a later execution can resume the job instead of paying for another.
    """

    job_id: str
    stage: str = "submitted"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """A provider job still running: what the editor shows as `metadata.stage`/`progress`."""

    stage: str
    progress: float | None = None


class Executor(ABC):
    """Produces one node type's output."""

    timeout: timedelta = timedelta(minutes=30)

    @abstractmethod
    def run(self, ctx: ExecutionContext) -> Completed | Submitted | Polling:
        """Do (or submit) the work; raise ExecutionFailed with a clear reason."""

    def poll(self, ctx: ExecutionContext, job: Polling) -> Completed | Progress:
        """One look at a submitted provider job (executors returning Polling override this)."""
        raise ExecutionFailed(f"{type(self).__name__} cannot poll jobs", "NoPoll")

    def cancel(self, ctx: ExecutionContext, job: Polling) -> None:
        """Stop a provider job when the run is terminated (where the provider can)."""
        return None

    def poll_policy(self, ctx: ExecutionContext) -> PollPolicy:
        """How often and how long `poll` is called."""
        return PollPolicy()
