"""Run a Lambda handler locally: `python -m lambdas.local_runner <function_name> <event.json>`.

Exit code 0 whenever the handler ran (a failed merge is reported through its callback);
2 when the runner itself cannot run (bad arguments, unknown function, unreadable event), in
which case the event file is kept for inspection.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from lambdas.common.logs import JsonLogger

LOG = JsonLogger("local_runner")
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def main(argv: Sequence[str] | None = None) -> int:
    """Load the event, call the handler, delete the event file; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or not _FUNCTION_NAME.match(args[0]):
        LOG.error("usage", message="python -m lambdas.local_runner <function_name> <event.json>")
        return 2
    function_name, event_path = args[0], Path(args[1])
    try:
        handler = importlib.import_module(f"lambdas.{function_name}.handler").lambda_handler
        event = json.loads(event_path.read_text(encoding="utf-8"))
    except Exception as exc:
        LOG.error("runner_failed", exc=exc, function=function_name, event_path=str(event_path))
        return 2
    try:
        body = handler(event, None)
    except Exception as exc:
        # Handlers never raise by contract; if one does, the reaper deals with the node.
        LOG.error("handler_raised", exc=exc, function=function_name)
        return 1
    finally:
        event_path.unlink(missing_ok=True)
    LOG.info("local_run_finished", function=function_name,
             error_type=body.get("error_type") if isinstance(body, dict) else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
