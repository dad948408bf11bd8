"""When a node may start (DESIGN §3 readiness): pending or failed, valid, every input completed.

Both functions take the node's own `status` and `is_valid`, and `input_statuses`: one entry per
referenced input id (see `validation.referenced_ids`), mapped to that node's status, or to None
when no such node exists in the pipeline. An input that is missing is never completed.
"""

from __future__ import annotations

from collections.abc import Mapping

# `failed` is startable so that a retry needs no manual reset.
STARTABLE_STATUSES = frozenset({"pending", "failed"})
COMPLETED = "completed"


def readiness_reason(
    status: str,
    is_valid: bool,
    input_statuses: Mapping[str, str | None],
    validation_errors: Mapping[str, str] | None = None,
) -> str | None:
    """Why the node is not ready, or None when it is; `validation_errors` enrich the message.

    Checks run in the order an operator would fix them: the node's own status, its validity,
    then its inputs (the first blocking one is named, with a count of the others).
    """
    if status not in STARTABLE_STATUSES:
        return f"node is {status}"
    if not is_valid:
        details = "; ".join(f"{key}: {msg}" for key, msg in (validation_errors or {}).items())
        return f"node is invalid: {details}" if details else "node is invalid"
    blocking = [
        f"input {node_id} does not exist" if input_status is None
        else f"input {node_id} is {input_status}"
        for node_id, input_status in input_statuses.items()
        if input_status != COMPLETED
    ]
    if not blocking:
        return None
    more = len(blocking) - 1
    return blocking[0] + (f" (and {more} more input(s) not completed)" if more else "")


def is_ready(status: str, is_valid: bool, input_statuses: Mapping[str, str | None]) -> bool:
    """True when the node may start now."""
    return readiness_reason(status, is_valid, input_statuses) is None
