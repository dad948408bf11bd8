"""`video-dagster dev`: the database and the Dagster UI; Ctrl-C stops both."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from video_dagster.cli.common import add_command, engine, object_store
from video_dagster.cli.environment import REPO_ROOT, dagster_environment
from video_dagster.emulators import shared as shared_emulators
from video_dagster.preview import PREVIEW_URL_ENV, serve


def cmd_dev(args: argparse.Namespace) -> int:
    """Start the database and `dagster dev`; stop everything started on Ctrl-C."""
    from video_dagster import refresh, settings
    from video_dagster.db import embedded

    embedded_mode = settings.database_url_from_env() is None
    was_running = embedded.running_url() is not None if embedded_mode else True
    eng = engine()
    env = {**os.environ, **dagster_environment(eng.url.render_as_string(False), embedded_mode)}
    preview = _start_preview(env, args)
    env[PREVIEW_URL_ENV] = preview
    # One set of emulators for every step/sensor process: a job submitted by one is resumable
    # by another. Providers the user configured are left alone.
    emus, emulated, emulated_line = shared_emulators.start(env)
    env.update(emulated)
    # The refresher (video_control) reloads `video` through this webserver, whatever the port.
    env[refresh.GRAPHQL_URL_ENV] = refresh.local_graphql_url(args.host, args.port)
    # Our wrapper of `dagster dev` (silences only its "use dg dev" notice), started in
    # DAGSTER_HOME: from the repo root it would also warn about the template dagster.yaml there.
    cmd = [sys.executable, "-m", "video_dagster.cli.dagster_dev", "dev",
           "-w", str(REPO_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops everything)", flush=True)
    print(f"output previews on {preview}/objects/<key>", flush=True)
    print(emulated_line, flush=True)
    # Started from a script with `&`, this process inherits SIGINT ignored, and so would `dagster
    # dev` (which then ignores SIGTERM too). Handle both here: a Python handler is reset to the
    # default in the child at exec, and SIGTERM stops the group like Ctrl-C instead of killing
    # only this process and orphaning `dagster dev` in its own session.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    # Own process group, default signal handling: `dagster dev` then stops cleanly on SIGINT.
    proc = subprocess.Popen(cmd, env=env, cwd=env["DAGSTER_HOME"], start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return _stop_group(proc)
    finally:
        if proc.poll() is None:
            _stop_group(proc)
        _reap_group(proc.pid)
        if emus is not None:
            emus.stop()
        if embedded_mode and not was_running:
            embedded.stop()
            print("embedded database stopped")


def _start_preview(env: dict[str, str], args: argparse.Namespace) -> str:
    """Serve stored outputs on loopback (next port after the UI's when free); return its URL."""
    store = object_store(env)
    wanted = args.preview_port if args.preview_port is not None else args.port + 1
    try:
        server = serve(store, "127.0.0.1", wanted)
    except OSError:
        server = serve(store, "127.0.0.1", 0)  # taken: any free port (printed below)
    return f"http://127.0.0.1:{server.server_address[1]}"


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


def _reap_group(pgid: int, grace: float = 5.0) -> None:
    """`dagster dev` has exited: end what it left in its process group. A code server that exits
    on Ctrl-C before `dagster dev` marks itself stopping is restarted by it, and the restarted
    one would live on until its 45 s heartbeat timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _group_running(pgid):
                return
            time.sleep(0.1)


def _group_running(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies count as ended: orphans are reaped by
    whoever adopted them, not by us. Without /proc: whether the group exists at all."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # ended meanwhile
        if state != "Z" and int(group) == pgid:
            return True
    return False


def register(sub: Any) -> None:
    """Add `dev`."""
    p = add_command(sub, "dev", "embedded database + Dagster UI; Ctrl-C stops both",
                    "video-dagster dev --port 3000")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--preview-port", type=int, default=None,
                   help="loopback port serving output previews (default: --port + 1; 0 = any)")
    p.set_defaults(func=cmd_dev)
