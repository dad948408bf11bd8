"""`dagster dev` as `video-dagster dev` runs it: the same command, without one warning, and with
our daemon entry point (sensors every second, cli/dagster_daemon.py).

`dagster dev` warns on every start that it is superseded by `dg dev` (dagster-dg-cli, not a
dependency of this project). We start it deliberately, so that warning is silenced here; every
other warning still shows.
"""

import warnings
from collections.abc import Sequence
from typing import Any

import dagster._cli.dev as dagster_dev_cli
from dagster._cli import main
from dagster._utils.warnings import SupersessionWarning

DAGSTER_DAEMON = ["-m", "dagster._daemon"]
OUR_DAEMON = ["-m", "video_dagster.cli.dagster_daemon"]
_open_ipc_subprocess = dagster_dev_cli.open_ipc_subprocess


def _open_with_our_daemon(parts: Sequence[str], **kwargs: Any) -> Any:
    """`dagster dev` starts its daemon as `python -m dagster._daemon run ...`: start ours."""
    parts = list(parts)
    if parts[1:3] == DAGSTER_DAEMON:
        parts[1:3] = OUR_DAEMON
    return _open_ipc_subprocess(parts, **kwargs)


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=SupersessionWarning)
    dagster_dev_cli.open_ipc_subprocess = _open_with_our_daemon  # type: ignore[assignment]
    main()
