"""`video-dagster dev`: the database and the Dagster UI; Ctrl-C stops both."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from typing import Any

from video_dagster.cli.common import add_command, engine
from video_dagster.cli.environment import REPO_ROOT, dagster_environment


def cmd_dev(args: argparse.Namespace) -> int:
    """Start the database and `dagster dev`; stop everything started on Ctrl-C."""
    from video_dagster import settings
    from video_dagster.db import embedded

    embedded_mode = settings.database_url_from_env() is None
    was_running = embedded.running_url() is not None if embedded_mode else True
    eng = engine()
    env = {**os.environ, **dagster_environment(eng.url.render_as_string(False), embedded_mode)}
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
           "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops everything)", flush=True)
    # Started from a script with `&`, this process inherits SIGINT ignored, and so would `dagster
    # dev` (which then ignores SIGTERM too). Handle both here: a Python handler is reset to the
    # default in the child at exec, and SIGTERM stops the group like Ctrl-C instead of killing
    # only this process and orphaning `dagster dev` in its own session.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    # Own process group, default signal handling: `dagster dev` then stops cleanly on SIGINT.
    proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return _stop_group(proc)
    finally:
        if proc.poll() is None:
            _stop_group(proc)
        if embedded_mode and not was_running:
            embedded.stop()
            print("embedded database stopped")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop_group(proc: subprocess.Popen[Any]) -> int:
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def register(sub: Any) -> None:
    """Add `dev`."""
    p = add_command(sub, "dev", "embedded database + Dagster UI; Ctrl-C stops both",
                    "video-dagster dev --port 3000")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_dev)
