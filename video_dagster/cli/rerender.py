"""`video-dagster rerender`: an asset backfill re-executing whole pipelines."""

from __future__ import annotations

import argparse
import json
from typing import Any

from video_dagster.cli.common import CliError, add_command, engine, pipeline_id
from video_dagster.cli.environment import DEFAULT_GRAPHQL

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
    """Launch an asset backfill re-executing every valid node of the given pipelines."""
    import httpx
    import sqlalchemy as sa

    from video_dagster import refresh
    from video_dagster.domain.keys import asset_key_path

    eng = engine()
    with eng.connect() as conn:
        ids = [pipeline_id(conn, text) for text in args.pipeline_ids]
        rows = conn.execute(
            sa.text("SELECT pipeline_id::text AS p, id::text AS n, type, title, is_valid "
                    "FROM video_production_nodes WHERE pipeline_id::text = ANY(:ids) "
                    "ORDER BY 1, 2"),
            {"ids": ids},
        ).all()
    missing = set(ids) - {r.p for r in rows}
    if missing:
        raise CliError(f"no nodes for pipeline(s): {', '.join(sorted(missing))}")
    # Invalid nodes cannot run; the editor's validation_errors say why. Re-render the rest.
    for r in rows:
        if not r.is_valid:
            print(f"skipping invalid node {r.n} ({r.title}); see `video-dagster pipeline show`")
    rows = [r for r in rows if r.is_valid]
    if not rows:
        raise CliError("no valid nodes to re-render")
    # The backfill may only name keys the loaded graph has: reload first if needed.
    refresh.reload_location(args.url)
    params = {
        "assetSelection": [{"path": asset_key_path(r.p, r.n, r.type)} for r in rows],
        "allPartitions": True,
        "title": f"Re-render {len(ids)} pipeline(s)",
        "tags": [{"key": "video/rerender", "value": "true"},
                 {"key": "video/force", "value": "true"}],
    }
    response = httpx.post(args.url, json={"query": LAUNCH_BACKFILL,
                                          "variables": {"params": params}}, timeout=120)
    response.raise_for_status()
    result = response.json().get("data", {}).get("launchPartitionBackfill") or {}
    if result.get("__typename") != "LaunchBackfillSuccess":
        raise CliError(f"backfill refused: {json.dumps(result or response.json())}")
    print(f"backfill {result['backfillId']} re-renders {len(rows)} nodes")
    return 0


def register(sub: Any) -> None:
    """Add `rerender`."""
    p = add_command(sub, "rerender", "backfill that re-executes whole pipelines",
                    "video-dagster rerender PIPELINE_ID")
    p.add_argument("pipeline_ids", nargs="+", metavar="PIPELINE_ID")
    p.add_argument("--url", default=DEFAULT_GRAPHQL, help="Dagster GraphQL endpoint")
    p.set_defaults(func=cmd_rerender)
