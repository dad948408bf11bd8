"""Sub-commands that run Dagster: demo, dev, refresh, rerender."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GRAPHQL = "http://127.0.0.1:3000/graphql"


def dagster_environment(database_url: str, embedded: bool) -> dict[str, str]:
    """Environment for Dagster processes: shared DB, Dagster's own DB, DAGSTER_HOME."""
    from sqlalchemy.engine import make_url

    from video_dagster import settings
    from video_dagster.db import embedded as emb

    env = {"DATABASE_URL": database_url}
    if not os.environ.get("DAGSTER_PG_URL"):
        if embedded:
            dagster_url = emb.start(database="dagster")
        else:
            dagster_url = _ensure_database(database_url, make_url(
                settings.sqlalchemy_url(database_url)).database + "_dagster")
        env["DAGSTER_PG_URL"] = settings.psycopg2_url(dagster_url)
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home_dir() / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() or not os.environ.get("DAGSTER_HOME"):
        shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env["DAGSTER_HOME"] = str(home)
    env["VIDEO_DAGSTER_HOME"] = str(settings.home_dir())
    return env


def _ensure_database(url: str, name: str) -> str:
    """Create database `name` beside `url`'s (Dagster storage must not mix with video tables)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from video_dagster import settings

    base = make_url(settings.sqlalchemy_url(url))
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).first():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def cmd_dev(args: argparse.Namespace) -> int:
    """Start the database and `dagster dev`; stop everything started on Ctrl-C."""
    from video_dagster import settings
    from video_dagster.cli import _engine
    from video_dagster.db import embedded

    embedded_mode = settings.database_url_from_env() is None
    was_running = embedded.running_url() is not None if embedded_mode else True
    engine = _engine()
    env = {**os.environ, **dagster_environment(engine.url.render_as_string(False), embedded_mode)}
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


def cmd_refresh(args: argparse.Namespace) -> int:
    """Reload the `video` location when the database structure changed (once or --watch)."""
    from video_dagster import refresh
    from video_dagster.cli import _engine

    refresh.watch(_engine(), args.url, args.interval, once=not args.watch)
    print("video location is up to date")
    return 0


LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


def cmd_rerender(args: argparse.Namespace) -> int:
    """Launch an asset backfill re-executing every node of the given pipelines."""
    import httpx
    import sqlalchemy as sa

    from video_dagster import refresh
    from video_dagster.cli import _engine
    from video_dagster.domain.keys import asset_key_path

    engine = _engine()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT pipeline_id::text AS p, id::text AS n, title, is_valid "
                    "FROM video_production_nodes WHERE pipeline_id::text = ANY(:ids) "
                    "ORDER BY 1, 2"),
            {"ids": args.pipeline_ids},
        ).all()
    missing = set(args.pipeline_ids) - {r.p for r in rows}
    if missing:
        raise SystemExit(f"error: no nodes for pipeline(s): {', '.join(sorted(missing))}")
    # Invalid nodes cannot run; the editor's validation_errors say why. Re-render the rest.
    for r in rows:
        if not r.is_valid:
            print(f"skipping invalid node {r.n} ({r.title}); see `video-dagster pipeline show`")
    rows = [r for r in rows if r.is_valid]
    if not rows:
        raise SystemExit("error: no valid nodes to re-render")
    # The backfill may only name keys the loaded graph has: reload first if needed.
    refresh.reload_location(args.url)
    params = {
        "assetSelection": [{"path": asset_key_path(r.p, r.n)} for r in rows],
        "allPartitions": True,
        "title": f"Re-render {len(args.pipeline_ids)} pipeline(s)",
        "tags": [{"key": "video/rerender", "value": "true"},
                 {"key": "video/force", "value": "true"}],
    }
    response = httpx.post(args.url, json={"query": LAUNCH_BACKFILL,
                                          "variables": {"params": params}}, timeout=120)
    response.raise_for_status()
    result = response.json().get("data", {}).get("launchPartitionBackfill") or {}
    if result.get("__typename") != "LaunchBackfillSuccess":
        raise SystemExit(f"error: backfill refused: {json.dumps(result or response.json())}")
    print(f"backfill {result['backfillId']} re-renders {len(rows)} nodes")
    return 0


def register(sub: Any) -> None:
    """Add this module's sub-commands to the CLI."""
    from video_dagster import demo

    p = sub.add_parser("demo", help="run the end-to-end demo with no credentials")
    p.set_defaults(func=demo.cmd_demo)

    p = sub.add_parser("dev", help="embedded database + Dagster UI; Ctrl-C stops both")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("refresh", help="reload the video location if the structure changed")
    p.add_argument("--url", default=DEFAULT_GRAPHQL, help="Dagster GraphQL endpoint")
    p.add_argument("--watch", action="store_true", help="keep watching")
    p.add_argument("--interval", type=float, default=5.0)
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("rerender", help="backfill that re-executes whole pipelines")
    p.add_argument("pipeline_ids", nargs="+")
    p.add_argument("--url", default=DEFAULT_GRAPHQL, help="Dagster GraphQL endpoint")
    p.set_defaults(func=cmd_rerender)
