"""`video-dagster validate`: validate pipelines and write is_valid/validation_errors."""

from __future__ import annotations

import argparse
from typing import Any

import sqlalchemy as sa

from video_dagster.cli.common import add_command, engine


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate every pipeline (or one)."""
    from video_dagster.db import validation

    eng = engine()
    if args.pipeline:
        results = validation.validate_pipelines(eng, [args.pipeline])
    else:
        with eng.connect() as conn:
            ids = [r[0] for r in conn.execute(sa.text(
                "SELECT id::text FROM video_production_pipelines ORDER BY id"))]
        results = validation.validate_pipelines(eng, ids)
    for r in results:
        print(f"{r.pipeline_id}: {r.nodes} nodes, {r.invalid} invalid, {r.written} updated")
    return 0


def register(sub: Any) -> None:
    """Add `validate`."""
    p = add_command(sub, "validate", "validate pipelines and write is_valid/validation_errors",
                    "video-dagster validate --pipeline PIPELINE_ID")
    p.add_argument("--pipeline", help="only this pipeline")
    p.set_defaults(func=cmd_validate)
