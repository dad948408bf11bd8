"""The always-call-back envelope around a Lambda's work, and its time budget."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from lambdas.common.billing import billing
from lambdas.common.errors import FFmpegTimeout, InvalidInput, LambdaError
from lambdas.common.events import callback_target, endpoint_url, error_body, identity, success_body
from lambdas.common.logs import JsonLogger
from lambdas.common.storage import Storage

Work = Callable[[Mapping[str, Any], Storage], Mapping[str, Any]]
DEFAULT_BUDGET = 900.0
# Left for uploading the output and writing the callback after the last FFmpeg step.
RESERVE_SECONDS = 60.0


class Deadline:
    """How long FFmpeg may still run: the Lambda's remaining time minus a reserve."""

    def __init__(self, context: object, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        budget = float(os.environ.get("FFMPEG_TIMEOUT_SECONDS") or DEFAULT_BUDGET)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            budget = min(budget, remaining() / 1000.0 - RESERVE_SECONDS)
        self._end = clock() + budget

    def seconds_left(self) -> float:
        """Seconds available to the next step; raise FFmpegTimeout when none are left."""
        left = self._end - self._clock()
        if left <= 1.0:
            raise FFmpegTimeout("no time left in the function's budget for FFmpeg")
        return left


def run_with_callback(
    event: object, logger: JsonLogger, work: Work, context: object = None
) -> dict[str, Any]:
    """Run work, then write exactly one callback (success or error) and return its body.

    A success result also carries the invocation's billed duration, memory and cost.
    """
    raw: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    ident = identity(raw)
    storage = Storage(endpoint_url(raw))
    started = time.monotonic()
    logger.info("invocation_started", **ident)
    try:
        if not isinstance(event, Mapping):
            raise InvalidInput("the event must be a JSON object")
        result = dict(work(raw, storage))
        for name, value in billing(context, time.monotonic() - started).items():
            result.setdefault(name, value)
        body = success_body(ident, result)
        logger.info("invocation_succeeded", seconds=_since(started), **ident)
    except LambdaError as exc:
        body = error_body(ident, exc.message, exc.error_type)
        logger.warning(
            "invocation_failed", error_type=exc.error_type, error=exc.message,
            seconds=_since(started), **ident,
        )
    except Exception as exc:
        # Never let an exception escape: the orchestrator only learns through the callback.
        body = error_body(ident, f"{type(exc).__name__}: {exc}", "InternalError")
        logger.error("invocation_crashed", exc=exc, seconds=_since(started), **ident)
    callback = callback_target(raw)
    if callback is None:
        logger.error("callback_missing", body=body)
        return body
    try:
        storage.write_json(callback, body)
        logger.info("callback_written", callback_uri=callback, **ident)
    except Exception as exc:
        logger.error("callback_write_failed", exc=exc, callback_uri=callback, body=body)
    return body


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
