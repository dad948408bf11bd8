"""`video-dagster pipeline`: import, export, list, show and delete pipelines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from video_dagster.cli.common import (
    EXAMPLES_DIR,
    EXIT_INVALID,
    CliError,
    add_command,
    engine,
    errors_text,
    table,
)
from video_dagster.cli.views import print_pipeline


def cmd_import(args: argparse.Namespace) -> int:
    """Import a pipeline document; print the new pipeline's id."""
    from video_dagster.db import editing, transfer

    path = Path(args.file)
    if not path.exists() and (EXAMPLES_DIR / args.file).exists():
        path = EXAMPLES_DIR / args.file
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    eng = engine()
    try:
        with eng.begin() as conn:
            pid = transfer.import_pipeline(conn, doc)
            nodes = editing.list_nodes(conn, pid)
    except transfer.DocumentError as exc:
        raise CliError(f"{path}: {exc}") from exc
    print(pid)
    invalid = invalid_in_file_terms(doc, nodes)
    if not invalid:
        return 0
    print(f"warning: {len(invalid)} of {len(nodes)} nodes are invalid and will not run until "
          "fixed:", file=sys.stderr)
    for line in invalid:
        print(f"  {line}", file=sys.stderr)
    return EXIT_INVALID


def invalid_in_file_terms(doc: Any, nodes: list[Any]) -> list[str]:
    """Invalid nodes named by the file's ids and titles, database ids in messages translated."""
    file_nodes = doc.get("nodes") or []
    # Import creates nodes in file order (creation time orders list_nodes); check before relying
    # on it, and fall back to database ids if the pairing does not hold.
    paired = len(file_nodes) == len(nodes) and all(
        f.get("type") == n.type and str(f.get("title") or f.get("type")) == n.title
        for f, n in zip(file_nodes, nodes, strict=False))
    names = {n.id: str(f.get("id") or f"#{i}")
             for i, (f, n) in enumerate(zip(file_nodes, nodes, strict=False))} if paired else {}
    lines = []
    for n in nodes:
        if n.is_valid:
            continue
        text = errors_text(n.validation_errors)
        for db_id, file_id in names.items():
            text = text.replace(db_id, file_id)
        lines.append(f"{names.get(n.id, n.id)} ({n.title}): {text}")
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    """Print a pipeline as a document `pipeline import` accepts."""
    from video_dagster.db import transfer

    with engine().connect() as conn:
        doc = transfer.export_pipeline(conn, args.pipeline_id)
    print(json.dumps(doc, indent=2))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List pipelines with their progress."""
    with engine().connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, title, metadata -> 'progress' AS progress "
                "FROM video_production_pipelines ORDER BY created_at, id"
            )
        ).all()
    print(table([(r.id, r.title, json.dumps(r.progress or {})) for r in rows],
                ("pipeline", "title", "progress")))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Show a pipeline's nodes."""
    print_pipeline(engine(), args.pipeline_id)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a pipeline and its nodes."""
    from video_dagster.db import editing

    with engine().begin() as conn:
        editing.destroy_pipeline(conn, args.pipeline_id)
    print(f"deleted {args.pipeline_id}")
    return 0


IMPORT_DESCRIPTION = """import a pipeline document (JSON); prints its new id

Invalid nodes are stored (the editor can fix them) and listed by the file's ids and titles.
exit status: 0 imported, every node valid; 3 imported, some node invalid; 1 nothing imported."""


def register(sub: Any) -> None:
    """Add `pipeline` and its actions."""
    p = add_command(sub, "pipeline", "pipelines: import | export | list | show | delete",
                    "video-dagster pipeline import merge_clips.json")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = add_command(actions, "import", IMPORT_DESCRIPTION,
                    "video-dagster pipeline import merge_clips.json")
    a.add_argument("file", help="a JSON file, or the name of a bundled example")
    a.set_defaults(func=cmd_import)
    a = add_command(actions, "export", "print a pipeline as JSON (the import format)",
                    "video-dagster pipeline export PIPELINE_ID > pipeline.json")
    a.add_argument("pipeline_id")
    a.set_defaults(func=cmd_export)
    add_command(actions, "list", "list pipelines with their progress",
                "video-dagster pipeline list").set_defaults(func=cmd_list)
    a = add_command(actions, "show", "a pipeline's nodes: status, validity, errors, output",
                    "video-dagster pipeline show PIPELINE_ID")
    a.add_argument("pipeline_id")
    a.set_defaults(func=cmd_show)
    a = add_command(actions, "delete", "delete a pipeline and its nodes",
                    "video-dagster pipeline delete PIPELINE_ID")
    a.add_argument("pipeline_id")
    a.set_defaults(func=cmd_delete)
