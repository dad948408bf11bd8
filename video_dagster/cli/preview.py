"""`video-dagster preview NODE`: a link to a node's output, made now and never stored."""

from __future__ import annotations

import argparse
from typing import Any

import sqlalchemy as sa

from video_dagster.cli.common import CliError, add_command, engine, node_id, object_store

DESCRIPTION = """print a link to a node's output, made on demand and never stored

S3: a presigned link valid for --expires seconds. Local store: the file's file:// URI, or the
link through `video-dagster dev`'s preview server when VIDEO_PREVIEW_URL is set."""


def cmd_preview(args: argparse.Namespace) -> int:
    """Print the link on stdout."""
    from video_dagster.preview import preview_link

    with engine().connect() as conn:
        nid = node_id(conn, args.node)
        row = conn.execute(sa.text(
            "SELECT title, status, output FROM video_production_nodes WHERE id = :id"),
            {"id": nid}).one()
    key = (row.output or {}).get("s3Key") if isinstance(row.output, dict) else None
    if not isinstance(key, str) or not key:
        raise CliError(f"node {nid} ({row.title}) has no stored output (status {row.status})")
    store = object_store()
    if not store.exists(key):
        raise CliError(f"{key} is not in the store ({row.title})")
    served = preview_link(key)
    if served:
        print(served)
    elif hasattr(store, "path"):
        print(store.path(key).as_uri())
    else:
        print(store.preview_url(key, expires_in=args.expires))
    return 0


def register(sub: Any) -> None:
    """Add `preview`."""
    p = add_command(sub, "preview", DESCRIPTION, "video-dagster preview 3811b680 | xargs xdg-open")
    p.add_argument("node", metavar="NODE_ID", help="a node id or a unique prefix of one")
    p.add_argument("--expires", type=int, default=900, help="seconds an S3 link stays valid")
    p.set_defaults(func=cmd_preview)
