"""Completion reports written by Lambdas under `callbacks/`: parse, apply, delete (at-least-once).

The callback sensor drains them and an asset waiting on its own execution consumes its own key;
both go through `consume`, which is idempotent: a duplicate or a stale report changes nothing
(the lifecycle checks process_uuid and in_progress) and the object is deleted either way.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from video_dagster.db.lifecycle import Applied, Lifecycle, Result, Stale
from video_dagster.domain.keys import CALLBACK_PREFIX
from video_dagster.resources.object_store import ObjectNotFoundError, ObjectStore

log = logging.getLogger(__name__)


class MalformedCallback(ValueError):
    """A callback object that is not a completion report."""


@dataclass(frozen=True)
class CallbackReport:
    """One Lambda's report on one execution."""

    node_uuid: str
    process_uuid: str
    executor_type: str
    result: dict[str, Any] | None
    error: str | None
    error_type: str | None


@dataclass(frozen=True)
class Consumed:
    """What consuming one callback object did."""

    key: str
    node_uuid: str | None
    outcome: Result | None
    problem: str | None = None

    @property
    def applied(self) -> bool:
        """True when the report changed its node."""
        return isinstance(self.outcome, Applied)


def _uuid(value: Any, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise MalformedCallback(f"{name} is not a UUID") from exc


def parse(raw: bytes) -> CallbackReport:
    """Parse a callback body; MalformedCallback says what is wrong."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedCallback(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MalformedCallback("not a JSON object")
    node = _uuid(body.get("node_uuid"), "node_uuid")
    process = _uuid(body.get("process_uuid"), "process_uuid")
    result, error = body.get("result"), body.get("error")
    if result is None and error is None:
        raise MalformedCallback("has neither result nor error")
    if result is not None and not isinstance(result, dict):
        raise MalformedCallback("result is not an object")
    return CallbackReport(
        node_uuid=node,
        process_uuid=process,
        executor_type=str(body.get("executor_type") or ""),
        result=result,
        error=None if error is None else str(error),
        error_type=None if body.get("error_type") is None else str(body["error_type"]),
    )


def output_of(result: dict[str, Any], store: ObjectStore) -> dict[str, Any]:
    """The node output (camelCase keys) from a Lambda result."""
    output = {k: v for k, v in result.items() if k not in ("cost", "bucket", "mode")}
    if "s3Key" not in output and isinstance(result.get("uri"), str):
        output["s3Key"] = store.key_from_uri(result["uri"])
    if "uri" not in output and isinstance(output.get("s3Key"), str):
        output["uri"] = store.uri(output["s3Key"])
    return output


def apply(report: CallbackReport, lifecycle: Lifecycle, store: ObjectStore) -> Result:
    """Apply a report through the lifecycle (stale reports are no-ops)."""
    if report.error is not None:
        return lifecycle.failed(
            report.node_uuid, report.error, report.process_uuid, report.error_type or "LambdaError"
        )
    assert report.result is not None
    try:
        output = output_of(report.result, store)
    except ValueError as exc:
        return lifecycle.failed(
            report.node_uuid, f"callback output is unusable: {exc}", report.process_uuid,
            "MalformedCallback",
        )
    cost = report.result.get("cost")
    return lifecycle.succeeded(
        report.node_uuid, output, report.process_uuid,
        cost=float(cost) if isinstance(cost, int | float) else None,
    )


def consume(key: str, store: ObjectStore, lifecycle: Lifecycle) -> Consumed:
    """Read, apply and delete one callback object."""
    try:
        raw = store.get_bytes(key)
    except ObjectNotFoundError:
        # Another consumer (the sensor or the waiting asset) got there first.
        return Consumed(key, None, None, "already consumed")
    try:
        report = parse(raw)
    except MalformedCallback as exc:
        outcome = _fail_from_key(key, lifecycle, f"malformed callback: {exc}")
        store.delete(key)
        log.warning("malformed callback %s: %s", key, exc)
        return Consumed(key, None, outcome, str(exc))
    outcome = apply(report, lifecycle, store)
    store.delete(key)
    if isinstance(outcome, Stale):
        log.info("stale callback %s: %s", key, outcome.reason)
    return Consumed(key, report.node_uuid, outcome)


def _fail_from_key(key: str, lifecycle: Lifecycle, message: str) -> Result | None:
    """A malformed report at `callbacks/<node>/<process>.json` still ends its execution."""
    parts = key[len(CALLBACK_PREFIX) :].split("/")
    if len(parts) != 2 or not parts[1].endswith(".json"):
        return None
    try:
        node, process = _uuid(parts[0], "node"), _uuid(parts[1][:-5], "process")
    except MalformedCallback:
        return None
    return lifecycle.failed(node, message, process, "MalformedCallback")


def pending_keys(store: ObjectStore, limit: int) -> list[str]:
    """Callback objects waiting to be consumed, oldest key order, at most `limit`."""
    return [info.key for info in store.list(CALLBACK_PREFIX, limit=limit)]
