"""Completion reports written by Lambdas under `callbacks/`: check, apply, delete (at-least-once).

The callback sensor drains them and an asset waiting on its own execution consumes its own key;
both go through `consume`, which is idempotent: a duplicate or a stale report changes nothing
(the lifecycle checks process_uuid and in_progress) and the object is deleted either way.

Nothing in a report is trusted (DESIGN §7): it is parsed within size/depth/number limits, its
node and process must be the ones its key names, its executor type the node's, and its output an
existing object of our store under that node's prefix, of the node's media type. A report that
fails any check is poisoned: its execution fails with the reason and the object is moved under
`quarantine/` for inspection, so it can never block the reports after it.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from video_dagster.db.lifecycle import Applied, Lifecycle, Result, Stale
from video_dagster.domain import jsonlimits
from video_dagster.domain.keys import CALLBACK_PREFIX, node_output_key
from video_dagster.domain.nodes import canonical_type
from video_dagster.resources.object_store import (
    ObjectNotFoundError,
    ObjectStore,
    validate_key,
)

log = logging.getLogger(__name__)

QUARANTINE_PREFIX = "quarantine/"
# A real report is well under 2 KB; the cap keeps a huge object out of memory and the output row.
MAX_CALLBACK_BYTES = 256 * 1024
MAX_ERROR_CHARS = 2000
# What each node type's executor must produce (mix-audio and compose-video produce a video).
OUTPUT_KINDS: dict[str, tuple[str, ...]] = {
    "asset": ("video", "audio", "image", "text"),
    "generate-talking-head": ("video",),
    "generate-animation": ("video",),
    "render-code": ("video",),
    "mix-audio": ("video",),
    "merge-videos": ("video",),
    "compose-video": ("video",),
    "generate-voiceover": ("audio",),
}
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY = re.compile(rf"^{re.escape(CALLBACK_PREFIX)}({_UUID})/({_UUID})\.json$")
READ_NODE = sa.text(
    "SELECT type, pipeline_id::text AS pipeline_id FROM video_production_nodes "
    "WHERE id = CAST(:id AS uuid)"
)


class MalformedCallback(ValueError):
    """A callback object that is not a usable completion report; the message says why."""


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
    quarantined: str | None = None

    @property
    def applied(self) -> bool:
        """True when the report changed its node."""
        return isinstance(self.outcome, Applied)


def _uuid(value: Any, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise MalformedCallback(f"{name} is not a UUID") from exc


def key_ids(key: str) -> tuple[str, str] | None:
    """(node, process) named by a well-formed `callbacks/<node>/<process>.json` key."""
    match = _KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def parse(raw: bytes) -> CallbackReport:
    """Parse a callback body within the JSON limits; MalformedCallback says what is wrong."""
    try:
        body = jsonlimits.loads(raw, max_bytes=MAX_CALLBACK_BYTES)
    except jsonlimits.JsonLimitError as exc:
        raise MalformedCallback(str(exc)) from None
    if not isinstance(body, dict):
        raise MalformedCallback("not a JSON object")
    node = _uuid(body.get("node_uuid"), "node_uuid")
    process = _uuid(body.get("process_uuid"), "process_uuid")
    result, error = body.get("result"), body.get("error")
    if result is None and error is None:
        raise MalformedCallback("has neither result nor error")
    if result is not None and not isinstance(result, dict):
        raise MalformedCallback("result is not an object")
    executor = body.get("executor_type")
    return CallbackReport(
        node_uuid=node,
        process_uuid=process,
        executor_type=executor if isinstance(executor, str) else "",
        result=result,
        error=None if error is None else str(error)[:MAX_ERROR_CHARS],
        error_type=None if body.get("error_type") is None else str(body["error_type"])[:100],
    )


def _media_kind(key: str) -> str | None:
    guessed = mimetypes.guess_type(key)[0] or ""
    kind = guessed.split("/")[0]
    return kind if kind in ("video", "audio", "image", "text") else None


def checked_output(result: dict[str, Any], node_type: str, pipeline_id: str, node_id: str,
                   store: ObjectStore) -> dict[str, Any]:
    """The node output from a result, only if it names an existing object the node may own."""
    key = result.get("s3Key")
    if key is None or key == "":
        uri = result.get("uri")
        if not isinstance(uri, str) or not uri:
            raise MalformedCallback("result names no stored object (no s3Key)")
        try:
            key = store.key_from_uri(uri)
        except ValueError:
            raise MalformedCallback(f"result URI {uri[:200]!r} is not in this store") from None
    if not isinstance(key, str):
        raise MalformedCallback("result s3Key is not a string")
    try:
        validate_key(key)
    except ValueError as exc:
        raise MalformedCallback(f"result s3Key is not a valid key: {exc}") from None
    prefix = node_output_key(pipeline_id, node_id, "")
    if not key.startswith(prefix):
        raise MalformedCallback(f"result s3Key {key[:200]!r} is outside the node's prefix {prefix}")
    kinds = OUTPUT_KINDS.get(canonical_type(node_type), ())
    kind = result.get("type")
    if kind not in kinds:
        raise MalformedCallback(f"result type {str(kind)[:40]!r} is not what a {node_type} node "
                                f"produces ({' or '.join(kinds) or 'nothing'})")
    guessed = _media_kind(key)
    if guessed is not None and guessed != kind:
        raise MalformedCallback(f"result {key!r} is named like {guessed}, not {kind}")
    info = store.stat(key)
    if info is None:
        raise MalformedCallback(f"result object {store.uri(key)} does not exist")
    output = {k: v for k, v in result.items() if k not in ("cost", "bucket", "mode")}
    # The store, not the report, says where and how big the object is.
    output.update(s3Key=key, uri=store.uri(key), size=info.size)
    return output


def _node(lifecycle: Lifecycle, node_id: str) -> Any:
    with lifecycle.engine.connect() as conn:
        return conn.execute(READ_NODE, {"id": node_id}).first()


def _check(report: CallbackReport, ids: tuple[str, str], lifecycle: Lifecycle,
           store: ObjectStore) -> tuple[Any, dict[str, Any] | None]:
    """The node row and checked output (None for an error report); MalformedCallback if not."""
    if (report.node_uuid, report.process_uuid) != ids:
        raise MalformedCallback(f"body names node {report.node_uuid} process "
                                f"{report.process_uuid}, its key names {ids[0]} process {ids[1]}")
    node = _node(lifecycle, ids[0])
    if node is None:
        return None, None
    if canonical_type(report.executor_type) != canonical_type(node.type):
        raise MalformedCallback(f"executor_type {report.executor_type[:60]!r} does not match the "
                                f"node's type {node.type!r}")
    if report.error is not None:
        return node, None
    assert report.result is not None
    return node, checked_output(report.result, node.type, node.pipeline_id, ids[0], store)


# One Lambda run costs cents at most (15 min x 10 GB is ~$0.15); a larger figure is a bad report.
MAX_LAMBDA_COST_USD = 10.0


def lambda_cost(value: Any) -> float | None:
    """The USD cost a Lambda reported, or None when it is not a plausible figure."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= MAX_LAMBDA_COST_USD else None


def consume(key: str, store: ObjectStore, lifecycle: Lifecycle) -> Consumed:
    """Check, apply and delete one callback object; a poisoned one is quarantined."""
    ids = key_ids(key)
    if ids is None:
        return _reject(key, None, store, lifecycle, "key is not callbacks/<node>/<process>.json")
    try:
        with store.open_read(key) as stream:
            raw = stream.read(MAX_CALLBACK_BYTES + 1)
    except ObjectNotFoundError:
        # Another consumer (the sensor or the waiting asset) got there first.
        return Consumed(key, None, None, "already consumed")
    try:
        report = parse(raw)
        node, output = _check(report, ids, lifecycle, store)
    except MalformedCallback as exc:
        return _reject(key, ids, store, lifecycle, str(exc))
    if node is None:
        outcome: Result = Stale(ids[0], "the node no longer exists")
    elif report.error is not None:
        outcome = lifecycle.failed(ids[0], report.error, ids[1], report.error_type or "LambdaError")
    else:
        assert output is not None and report.result is not None
        cost = report.result.get("cost")
        outcome = lifecycle.succeeded(
            ids[0], output, ids[1],
            cost=lambda_cost(cost),
        )
    store.delete(key)
    if isinstance(outcome, Stale):
        log.info("stale callback %s: %s", key, outcome.reason)
    return Consumed(key, ids[0], outcome)


def quarantine_key(key: str) -> str:
    """Where a poisoned object goes: its own key when valid, else one escaped segment."""
    try:
        return QUARANTINE_PREFIX + validate_key(key)
    except ValueError:
        # surrogateescape: a local file name that is not UTF-8 is listed with lone surrogates.
        raw = key.encode("utf-8", "surrogateescape")
        return QUARANTINE_PREFIX + "callbacks/" + quote(raw, safe="")[:200]


def quarantine(store: ObjectStore, key: str, reason: str) -> str | None:
    """Move `key` under quarantine/ with a note of the reason; delete it if it cannot move."""
    dest = quarantine_key(key)
    note = {"key": key, "reason": reason, "quarantined_at": datetime.now(UTC).isoformat()}
    try:
        store.move(key, dest)
        store.put_bytes(dest + ".reason.json", json.dumps(note).encode(), "application/json")
        return dest
    except ObjectNotFoundError:
        return None
    except Exception as exc:  # an object we cannot keep must still never block the others
        log.warning("cannot quarantine callback %r (%s); deleting it", key, exc)
        try:
            store.delete(key)
        except Exception as again:
            log.warning("cannot delete callback %r either (%s)", key, again)
        return None


def _reject(key: str, ids: tuple[str, str] | None, store: ObjectStore, lifecycle: Lifecycle,
            reason: str) -> Consumed:
    outcome = None
    if ids is not None:
        # Written before the move: if the move fails, the next pass fails it again (a no-op).
        outcome = lifecycle.failed(ids[0], f"callback rejected: {reason}", ids[1],
                                   "InvalidCallback")
    dest = quarantine(store, key, reason)
    log.warning("poisoned callback %r: %s (kept as %s)", key, reason, dest)
    return Consumed(key, ids[0] if ids else None, outcome, reason, dest)


def pending_keys(store: ObjectStore, limit: int) -> list[str]:
    """Callback objects waiting to be consumed, oldest key order, at most `limit`."""
    return [info.key for info in store.list(CALLBACK_PREFIX, limit=limit)]
