"""A local Lambda that died without calling back: the message and the callback written for it."""

from __future__ import annotations

import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdas.common.billing import MEMORY_ENV
from video_dagster.resources.lambda_functions import FUNCTIONS


def memory_env(function_name: str) -> dict[str, str]:
    """The deployed memory size, so a local run reports what it would cost on Lambda."""
    spec = FUNCTIONS.get(function_name)
    return {MEMORY_ENV: str(spec.memory_mb)} if spec else {}


def crash_message(function_name: str, pid: int, status: int, log_path: Path) -> str:
    """`local Lambda video_merger (pid 12) was killed by SIGKILL (exit status -9) ...`."""
    if status < 0:
        try:
            how = f"was killed by {signal.Signals(-status).name} (exit status {status})"
        except ValueError:
            how = f"was killed by signal {-status} (exit status {status})"
    else:
        how = f"exited with status {status}"
    return f"local Lambda {function_name} (pid {pid}) {how} without calling back; log: {log_path}"


def write_crash_callback(event: Mapping[str, Any], message: str) -> bool:
    """Write the failure callback a dead child never wrote; False when one exists or no target."""
    from lambdas.common.events import callback_target, endpoint_url, error_body, identity
    from lambdas.common.storage import Storage

    target = callback_target(event)
    if target is None:
        return False
    storage = Storage(endpoint_url(event))
    try:
        if storage.exists(target):
            return False  # it did call back just before dying
        storage.write_json(target, error_body(identity(event), message, "LambdaCrashed"))
    except Exception:  # the deadline still ends the execution
        logging.getLogger(__name__).exception("could not write the crash callback to %s", target)
        return False
    return True
