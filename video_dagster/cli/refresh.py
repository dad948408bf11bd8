"""`video-dagster refresh`: reload the `video` location when the database structure changed."""

from __future__ import annotations

import argparse
from typing import Any

from video_dagster.cli.common import add_command, engine
from video_dagster.cli.environment import URL_HELP


def cmd_refresh(args: argparse.Namespace) -> int:
    """Reload once, or keep watching with --watch."""
    from video_dagster import refresh

    refresh.watch(engine(), refresh.graphql_url(args.url), args.interval, once=not args.watch)
    print("video location is up to date")
    return 0


def register(sub: Any) -> None:
    """Add `refresh`."""
    p = add_command(sub, "refresh", "reload the video location if the structure changed",
                    "video-dagster refresh --watch --interval 5")
    p.add_argument("--url", default=None, help=URL_HELP)
    p.add_argument("--watch", action="store_true", help="keep watching")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between checks")
    p.set_defaults(func=cmd_refresh)
