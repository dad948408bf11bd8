"""`video-dagster status`: progress, cost, and the nodes that need attention, per pipeline."""

from __future__ import annotations

import argparse
from typing import Any

from video_dagster.cli import views
from video_dagster.cli.common import add_command, clip, engine, print_json, table

ATTENTION = ("in_progress", "failed")


def cmd_status(args: argparse.Namespace) -> int:
    """Print every pipeline (or one) with its running and failed nodes."""
    with engine(quiet=args.json).connect() as conn:
        pipes = views.pipelines(conn, args.pipeline)
        all_nodes = views.nodes(conn, [p["id"] for p in pipes])
    by_pipeline: dict[str, list[dict[str, Any]]] = {p["id"]: [] for p in pipes}
    for n in all_nodes:
        by_pipeline[n["pipeline_id"]].append(n)
    if args.json:
        print_json([{**p, "invalid_nodes": [n for n in by_pipeline[p["id"]] if not n["is_valid"]],
                     "nodes": [n for n in by_pipeline[p["id"]] if n["status"] in ATTENTION]}
                    for p in pipes])
        return 0
    if not pipes:
        print("no pipelines yet; import one with `video-dagster pipeline import FILE.json`")
    width = views.terminal_width()
    for p in pipes:
        print(f"{p['title']}  ({p['id']})")
        print(f"  {views.progress_bar(p['progress'])}  "
              f"cost {views.money(p['totalCost'])} of {views.money(p['estimatedTotalCost'])} "
              f"estimated  updated {views.age(p['updated_at'])} ago")
        members = by_pipeline[p["id"]]
        invalid = sum(1 for n in members if not n["is_valid"])
        if invalid:
            print(f"  {invalid} invalid node(s) will not run: see `video-dagster pipeline show "
                  f"{p['id'][:8]}`")
        busy = [n for n in members if n["status"] in ATTENTION]
        if busy:
            rows = [(n["id"][:8], n["title"], n["status"], n["stage"] or "",
                     views.age(n["started_at"] if n["status"] == "in_progress"
                               else n["completed_at"] or n["updated_at"]))
                    for n in busy]
            lines = table(rows, ("node", "title", "status", "stage", "age"),
                          width=width - 2, shrink=(1,)).splitlines()
            print("\n".join("  " + line for line in lines[:2]))
            for line, node in zip(lines[2:], busy, strict=True):
                print("  " + line)
                if node["status"] == "failed":
                    print(clip(f"            {views.detail(node)}", width))
        print()
    return 0


def register(sub: Any) -> None:
    """Add `status`."""
    p = add_command(sub, "status",
                    "pipelines with progress and cost; running and failed nodes with their "
                    "errors, stage and age", "video-dagster status PIPELINE_ID --json")
    p.add_argument("pipeline", nargs="?", metavar="PIPELINE_ID", help="only this pipeline")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)
