"""AWS on-failure records of our Lambdas (S3 destination): each fails the execution it names.

template.yaml sends a record for every asynchronous invocation that failed without retry
(timeout, out of memory, runtime crash, or an event too old to run) to the pipeline bucket, at
`aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`. The record carries our
event as `requestPayload` (node_uuid, process_uuid), the reason as `requestContext.condition`
(`RetriesExhausted`, `EventAgeExceeded`) and, when the function ran, `responsePayload`
(`errorMessage`, `errorType`). A record for an execution that already ended is a no-op (the
lifecycle checks the process); an unreadable one is moved under `quarantine/` and logged.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from video_dagster.assets.callbacks import Consumed
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.resources.object_store import ObjectNotFoundError, ObjectStore, validate_key

log = logging.getLogger(__name__)

FAILURE_PREFIX = "aws/lambda/async/"
QUARANTINE_PREFIX = "quarantine/lambda-failures/"
MAX_RECORD_BYTES = 1_048_576  # an async payload is at most 1 MB; a record is not much more
_MESSAGE_CHARS = 1000
_FIELD_CHARS = 100  # condition, function name, error type: short words in a real record


@dataclass(frozen=True)
class FailureRecord:
    """What one AWS record says about one execution."""

    node_uuid: str
    process_uuid: str
    executor_type: str
    error: str
    error_type: str


class UnreadableRecord(ValueError):
    """Not an invocation record of one of our events."""


def _uuid(value: Any, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise UnreadableRecord(f"requestPayload.{name} is not a UUID") from None


def _text(value: Any, limit: int) -> str:
    """A record string as PostgreSQL can store it: no NUL, no lone surrogate, capped."""
    text = str(value)[:limit].replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def _classify(condition: str, error_type: str, message: str) -> str:
    if condition == "EventAgeExceeded":
        return "EventAgeExceeded"
    if "timed out" in message.lower() or "timeout" in error_type.lower():
        return "Timeout"
    if "outofmemory" in error_type.lower().replace(".", "") or "out of memory" in message.lower():
        return "OutOfMemory"
    return "LambdaCrashed"


def parse_record(raw: bytes) -> FailureRecord:
    """Parse one record; UnreadableRecord says what is wrong."""
    if len(raw) > MAX_RECORD_BYTES:
        raise UnreadableRecord(f"larger than {MAX_RECORD_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # ValueError: also int() beyond 4,300 digits
        raise UnreadableRecord(f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise UnreadableRecord("not a JSON object")
    context, request = body.get("requestContext"), body.get("requestPayload")
    if not isinstance(context, dict) or not isinstance(request, dict):
        raise UnreadableRecord("requestContext or requestPayload is missing")
    condition = _text(context.get("condition") or "unknown", _FIELD_CHARS)
    if condition == "Success":
        raise UnreadableRecord("a success record (only failures are sent here)")
    response = body.get("responsePayload")
    response = response if isinstance(response, dict) else {}
    error_type = _text(response.get("errorType") or "", _FIELD_CHARS)
    message = _text(response.get("errorMessage") or "", _MESSAGE_CHARS)
    arn = str(context.get("functionArn") or "")[:1000]
    function = _text(arn.split(":function:")[-1].split(":")[0], _FIELD_CHARS)
    kind = _classify(condition, error_type, message)
    if kind == "EventAgeExceeded":
        detail = "the event waited in Lambda's queue past MaximumEventAgeInSeconds and never ran"
    else:
        detail = f"{error_type}: {message}".strip(": ") or "no error message"
    return FailureRecord(
        node_uuid=_uuid(request.get("node_uuid"), "node_uuid"),
        process_uuid=_uuid(request.get("process_uuid"), "process_uuid"),
        executor_type=_text(request.get("executor_type") or "", _FIELD_CHARS),
        error=f"Lambda {function or 'function'} failed in AWS ({condition}): {detail}",
        error_type=kind,
    )


def consume(key: str, store: ObjectStore, lifecycle: Lifecycle) -> Consumed:
    """Read one record, fail its execution, delete it (quarantine it when unreadable)."""
    try:
        with store.open_read(key) as stream:  # never more than the limit in memory
            raw = stream.read(MAX_RECORD_BYTES + 1)
        record = parse_record(raw)
    except ObjectNotFoundError:
        return Consumed(key, None, None, "already consumed")
    except (UnreadableRecord, ValueError) as exc:  # ValueError: a name the store cannot open
        target = _quarantine(store, key)
        log.warning("unreadable Lambda failure record %s (quarantined): %s", key, exc)
        return Consumed(key, None, None, f"unreadable Lambda failure record: {exc}",
                        quarantined=target)
    outcome = lifecycle.failed(record.node_uuid, record.error, record.process_uuid,
                               record.error_type)
    store.delete(key)
    return Consumed(key, record.node_uuid, outcome)


def _quarantine(store: ObjectStore, key: str) -> str | None:
    """Move an unreadable record aside (an escaped name if its own is not a valid key there);
    delete it if it cannot move, so it is never re-read every tick."""
    try:
        target = validate_key(QUARANTINE_PREFIX + key[len(FAILURE_PREFIX):])
    except ValueError:
        raw = key.encode("utf-8", "surrogateescape")
        target = QUARANTINE_PREFIX + quote(raw, safe="")[:200]
    try:
        store.move(key, target)
        return target
    except ObjectNotFoundError:
        return None
    except Exception as exc:
        log.warning("cannot quarantine failure record %r (%s); deleting it", key, exc)
        store.delete(key)
        return None


def consume_pending(store: ObjectStore, lifecycle: Lifecycle, limit: int) -> list[Consumed]:
    """Apply the waiting failure records, at most `limit`."""
    consumed = []
    for info in store.list(FAILURE_PREFIX, limit=limit):
        try:
            consumed.append(consume(info.key, store, lifecycle))
        except Exception as exc:
            # One record (or a passing outage) never stops the others; it stays for next tick.
            log.warning("failure record %r not consumed: %s: %s", info.key, type(exc).__name__,
                        exc)
            consumed.append(Consumed(info.key, None, None,
                                     f"not consumed: {type(exc).__name__}: {exc}"[:500]))
    return consumed
