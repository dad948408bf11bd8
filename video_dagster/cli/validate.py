"""`video-dagster validate`: validate pipelines and write is_valid/validation_errors."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import sqlalchemy as sa

from video_dagster.cli.common import (
    EXIT_INVALID,
    add_command,
    engine,
    errors_text,
    pipeline_id,
    print_json,
)

DESCRIPTION = """validate pipelines and write is_valid/validation_errors

exit status: 0 every node is valid; 3 some node is invalid (listed); 1 error (e.g. unknown
pipeline); 2 usage error."""


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate every pipeline (or one); exit 2 when any node is invalid."""
    from video_dagster.db import validation

    eng = engine(quiet=args.json)
    with eng.connect() as conn:
        if args.pipeline:
            ids = [pipeline_id(conn, args.pipeline)]
        else:
            ids = [r[0] for r in conn.execute(sa.text(
                "SELECT id::text FROM video_production_pipelines ORDER BY id"))]
    results = validation.validate_pipelines(eng, ids)
    with eng.connect() as conn:
        invalid = conn.execute(sa.text(
            "SELECT pipeline_id::text AS pipeline_id, id::text AS node_id, title, type, "
            "validation_errors FROM video_production_nodes "
            "WHERE pipeline_id::text = ANY(:ids) AND NOT is_valid ORDER BY pipeline_id, title, id"
        ), {"ids": ids}).all()
    if args.json:
        print_json({"pipelines": [dataclasses.asdict(r) for r in results],
                    "invalid_nodes": [r._asdict() for r in invalid]})
    else:
        for r in results:
            print(f"{r.pipeline_id}: {r.nodes} nodes, {r.invalid} invalid, {r.written} updated")
        for n in invalid:
            print(f"  invalid {n.node_id} ({n.title}): {errors_text(n.validation_errors)}")
    return EXIT_INVALID if invalid else 0


def register(sub: Any) -> None:
    """Add `validate`."""
    p = add_command(sub, "validate", DESCRIPTION,
                    "video-dagster validate --pipeline PIPELINE_ID || echo 'fix the nodes listed'")
    p.add_argument("--pipeline", help="only this pipeline")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_validate)
