"""`dagster dev` as `video-dagster dev` runs it: the same command, without one warning, with our
daemon entry point (sensors every second, cli/dagster_daemon.py) and our code server for the
`video` location (reload in place, forked run workers: cli/code_server.py).

`dagster dev` warns on every start that it is superseded by `dg dev` (dagster-dg-cli, not a
dependency of this project). We start it deliberately, so that warning is silenced here; every
other warning still shows.
"""

import itertools
import warnings
from collections.abc import Sequence
from typing import Any

import dagster._cli.dev as dagster_dev_cli
import dagster._grpc.server as dagster_grpc_server
from dagster._cli import main
from dagster._utils.warnings import SupersessionWarning

DAGSTER_DAEMON = ["-m", "dagster._daemon"]
OUR_DAEMON = ["-m", "video_dagster.cli.dagster_daemon"]
DAGSTER_CODE_SERVER = ["-m", "dagster", "code-server", "start"]
OUR_CODE_SERVER = ["-m", "video_dagster.cli.code_server", "--lazy-load-user-code"]
VIDEO_MODULE = "video_dagster.definitions"
_open_ipc_subprocess = dagster_dev_cli.open_ipc_subprocess
_open_server_subprocess = dagster_grpc_server.open_ipc_subprocess


def _open_with_our_daemon(parts: Sequence[str], **kwargs: Any) -> Any:
    """`dagster dev` starts its daemon as `python -m dagster._daemon run ...`: start ours."""
    parts = list(parts)
    if parts[1:3] == DAGSTER_DAEMON:
        parts[1:3] = OUR_DAEMON
    return _open_ipc_subprocess(parts, **kwargs)


def _open_with_our_code_server(parts: Sequence[str], **kwargs: Any) -> Any:
    """`dagster dev` serves each location through `python -m dagster code-server start ...
    -m MODULE ...` (same options as `api grpc`): serve `video` with ours."""
    parts = list(parts)
    if parts[1:5] == DAGSTER_CODE_SERVER and _module_of(parts) == VIDEO_MODULE:
        parts[1:5] = OUR_CODE_SERVER
    return _open_server_subprocess(parts, **kwargs)


def _module_of(parts: Sequence[str]) -> str | None:
    for flag, value in itertools.pairwise(parts):
        if flag in ("-m", "--module-name") and value != "dagster":
            return value
    return None


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=SupersessionWarning)
    dagster_dev_cli.open_ipc_subprocess = _open_with_our_daemon  # type: ignore[assignment]
    dagster_grpc_server.open_ipc_subprocess = _open_with_our_code_server  # type: ignore[assignment]
    main()
