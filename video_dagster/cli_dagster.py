"""Sub-commands that run things: the demo (more arrive with the Dagster integration)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_demo(args: argparse.Namespace) -> int:
    """Create the database, import the example pipeline, validate it and print its nodes."""
    from video_dagster.cli import EXAMPLES_DIR, _engine, print_pipeline
    import json

    from video_dagster.db import transfer

    engine = _engine()
    with engine.begin() as conn:
        pid = transfer.import_pipeline(
            conn, json.loads((EXAMPLES_DIR / "all_node_types.json").read_text())
        )
    print_pipeline(engine, pid)
    return 0


def register(sub: Any) -> None:
    """Add this module's sub-commands to the CLI."""
    p = sub.add_parser("demo", help="run the end-to-end demo with no credentials")
    p.set_defaults(func=cmd_demo)
