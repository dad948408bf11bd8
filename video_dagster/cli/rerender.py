"""`video-dagster rerender` and `run`: one asset backfill per pipeline, optionally watched.

`rerender` re-executes completed nodes (forced); `run` starts only what is not done (never
redoes a completed node). Both select valid nodes only, can narrow to one node and its
downstream, tag the backfill (and so its runs) with the pipeline, print the UI link, and with
`--wait` show a progress bar per pipeline until every selected node has finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from video_dagster.cli import views
from video_dagster.cli.common import CliError, add_command, engine, node_id, pipeline_id
from video_dagster.cli.environment import URL_HELP

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
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
    ... on PythonError { message }
  }
}
"""
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
NODES = sa.text(
    "SELECT n.pipeline_id::text AS pipeline_id, p.title AS pipeline_title, n.id::text AS id, "
    "n.type, n.title, n.status, n.is_valid, n.inputs, n.metadata "
    "FROM video_production_nodes n JOIN video_production_pipelines p ON p.id = n.pipeline_id "
    "WHERE n.pipeline_id = ANY(CAST(:ids AS uuid[])) ORDER BY n.pipeline_id, n.created_at, n.id"
)


@dataclass(frozen=True)
class Launch:
    """One pipeline's backfill."""

    pipeline_id: str
    title: str
    node_ids: tuple[str, ...]
    backfill_id: str


def graphql_url(arg: str | None) -> str:
    """--url, else DAGSTER_GRAPHQL_URL, else the local default."""
    from video_dagster import refresh

    return refresh.graphql_url(arg)


def ui_base(url: str) -> str:
    """The webserver's base URL from its GraphQL endpoint."""
    return url.removesuffix("/").removesuffix("/graphql")


def downstream(rows: list[Any], start: str) -> set[str]:
    """`start` and every node of its pipeline that reads from it, directly or not."""
    from video_dagster.domain.validation import referenced_ids

    readers: dict[str, set[str]] = {}
    for r in rows:
        for ref in referenced_ids(r.type, r.inputs):
            readers.setdefault(ref, set()).add(r.id)
    found, todo = {start}, [start]
    while todo:
        for reader in readers.get(todo.pop(), ()):
            if reader not in found:
                found.add(reader)
                todo.append(reader)
    return found


def select(args: argparse.Namespace, conn: sa.Connection, forced: bool) -> dict[str, list[Any]]:
    """Valid nodes to launch, per pipeline (invalid ones are named and skipped)."""
    ids = [pipeline_id(conn, text) for text in args.pipeline_ids]
    rows = conn.execute(NODES, {"ids": ids}).all()
    wanted: set[str] | None = None
    if args.node:
        nid = node_id(conn, args.node)
        if nid not in {r.id for r in rows}:
            raise CliError(f"node {args.node} is not in the given pipeline(s)")
        wanted = downstream(rows, nid) if args.downstream else {nid}
    elif args.downstream:
        raise CliError("--downstream needs --node")
    chosen: dict[str, list[Any]] = {pid: [] for pid in ids}
    for r in rows:
        if wanted is not None and r.id not in wanted:
            continue
        if not r.is_valid:
            print(f"skipping invalid node {r.id[:8]} ({r.title}); see `video-dagster "
                  f"pipeline show {r.pipeline_id[:8]}`", file=sys.stderr)
        elif forced or r.status != "completed":
            chosen[r.pipeline_id].append(r)
    return {pid: nodes for pid, nodes in chosen.items() if nodes}


def launch(url: str, pid: str, nodes: list[Any], forced: bool) -> Launch:
    """One backfill for one pipeline, tagged so its runs are found by pipeline."""
    import httpx

    from video_dagster.assets.translator import tag_value
    from video_dagster.domain.keys import asset_key_path

    title = nodes[0].pipeline_title
    verb = "Re-render" if forced else "Run"
    params = {
        "assetSelection": [{"path": asset_key_path(pid, n.id, n.type)} for n in nodes],
        "allPartitions": True,
        "title": f"{verb} {title}"[:200],
        "tags": [{"key": "video/rerender" if forced else "video/trigger",
                  "value": "true" if forced else "cli"},
                 {"key": "video/force", "value": "true" if forced else "false"},
                 {"key": "video/pipeline_id", "value": pid},
                 {"key": "video/pipeline_title", "value": tag_value(title) or "untitled"}],
    }
    response = httpx.post(url, json={"query": LAUNCH_BACKFILL, "variables": {"params": params}},
                          timeout=120)
    response.raise_for_status()
    result = (response.json().get("data") or {}).get("launchPartitionBackfill") or {}
    if result.get("__typename") != "LaunchBackfillSuccess":
        raise CliError(f"backfill refused: {json.dumps(result or response.json())[:500]}")
    return Launch(pid, title, tuple(n.id for n in nodes), result["backfillId"])


def backfill_status(url: str, backfill_id: str) -> str:
    """The backfill's status (REQUESTED, COMPLETED_SUCCESS, ...)."""
    import httpx

    response = httpx.post(url, json={"query": BACKFILL_STATUS, "variables": {"id": backfill_id}},
                          timeout=30)
    response.raise_for_status()
    data = (response.json().get("data") or {}).get("partitionBackfillOrError") or {}
    return str(data.get("status") or "UNKNOWN")


def finished_since(row: Any, since: datetime) -> str | None:
    """"completed"/"failed" when the node finished after `since`, else None."""
    if row.status not in ("completed", "failed"):
        return None
    stamp = (row.metadata or {}).get("completed_at")
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return str(row.status) if when >= since else None


def wait(eng: sa.Engine, url: str, launches: list[Launch], since: datetime,
         timeout: float, interval: float = 1.0) -> int:
    """Progress bars until every selected node finished (or its backfill did); 1 on failure."""
    deadline = time.monotonic() + timeout
    shown: dict[str, str] = {}
    while True:
        with eng.connect() as conn:
            rows = {r.id: r for r in conn.execute(
                NODES, {"ids": [launch.pipeline_id for launch in launches]})}
        done_all, failed = True, []
        for la in launches:
            states = [finished_since(rows[n], since) if n in rows else "failed"
                      for n in la.node_ids]
            ok, bad = states.count("completed"), states.count("failed")
            failed += [rows[n] for n, s in zip(la.node_ids, states, strict=True)
                       if s == "failed" and n in rows]
            finished = ok + bad == len(states) or backfill_status(url, la.backfill_id) in FINISHED
            done_all &= finished
            bar = views.progress_bar({"total": len(states), "completed": ok, "failed": bad})
            line = f"{la.title[:30]:30} {bar}  {bad} failed" + ("  done" if finished else "")
            if shown.get(la.pipeline_id) != line:
                print(line, flush=True)
                shown[la.pipeline_id] = line
        if done_all:
            for r in failed:
                print(f"failed {r.id[:8]} ({r.title}): {(r.metadata or {}).get('error')}")
            return 1 if failed else 0
        if time.monotonic() > deadline:
            raise CliError(f"still running after {timeout:.0f} s; follow it in the UI")
        time.sleep(interval)


def _command(args: argparse.Namespace, forced: bool) -> int:
    from video_dagster import refresh

    url = graphql_url(args.url)
    eng = engine()
    with eng.connect() as conn:
        chosen = select(args, conn, forced)
    if not chosen:
        if forced:
            raise CliError("no valid nodes to re-render")
        print("nothing to run: every valid node is completed")
        return 0
    # A backfill may only name keys the loaded graph has: reload first if needed.
    refresh.reload_location(url)
    since = datetime.now(UTC)
    launches = [launch(url, pid, nodes, forced) for pid, nodes in chosen.items()]
    for la in launches:
        print(f"backfill {la.backfill_id} {'re-renders' if forced else 'runs'} "
              f"{len(la.node_ids)} node(s) of {la.title}: {ui_base(url)}/runs/b/{la.backfill_id}")
    return wait(eng, url, launches, since, args.timeout) if args.wait else 0


def cmd_rerender(args: argparse.Namespace) -> int:
    """Re-execute every valid node (or one node and its downstream)."""
    return _command(args, forced=True)


def cmd_run(args: argparse.Namespace) -> int:
    """Start the valid nodes that are not completed."""
    return _command(args, forced=False)


def _options(p: Any) -> None:
    p.add_argument("pipeline_ids", nargs="+", metavar="PIPELINE_ID")
    p.add_argument("--node", metavar="NODE_ID", help="only this node (id or unique prefix)")
    p.add_argument("--downstream", action="store_true", help="with --node: and its downstream")
    p.add_argument("--wait", action="store_true", help="show progress until every node finished")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits at most")
    p.add_argument("--url", default=None, help=URL_HELP)


def register(sub: Any) -> None:
    """Add `rerender` and `run`."""
    p = add_command(sub, "rerender", "backfill re-executing whole pipelines (or a node and its "
                    "downstream); exit 1 with --wait when a node failed",
                    "video-dagster rerender PIPELINE_ID --node 3811b680 --downstream --wait")
    _options(p)
    p.set_defaults(func=cmd_rerender)
    p = add_command(sub, "run", "backfill starting only what is not done (never redoes a "
                    "completed node); exit 1 with --wait when a node failed",
                    "video-dagster run PIPELINE_ID --wait")
    _options(p)
    p.set_defaults(func=cmd_run)
