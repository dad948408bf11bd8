"""`video-dagster pipeline`: import, export, list, show and delete pipelines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from video_dagster.cli import views
from video_dagster.cli.common import (
    EXAMPLES_DIR,
    EXIT_INVALID,
    CliError,
    add_command,
    engine,
    errors_text,
    pipeline_id,
    print_json,
    table,
)


def cmd_import(args: argparse.Namespace) -> int:
    """Import a pipeline document; print the new pipeline's id."""
    from video_dagster.db import editing, transfer

    path = Path(args.file)
    if not path.exists() and (EXAMPLES_DIR / args.file).exists():
        path = EXAMPLES_DIR / args.file
    try:
        doc = transfer.read_document(path)
    except transfer.DocumentError as exc:
        raise CliError(str(exc)) from None
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
        doc = transfer.export_pipeline(conn, pipeline_id(conn, args.pipeline_id))
    print(json.dumps(doc, indent=2))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List pipelines with their progress."""
    with engine(quiet=args.json).connect() as conn:
        rows = views.pipelines(conn)
    if args.json:
        print_json(rows)
        return 0
    print(table([(r["id"][:8], r["title"], views.progress_bar(r["progress"], 10),
                  views.money(r["totalCost"])) for r in rows],
                ("pipeline", "title", "progress", "cost"), width=views.terminal_width(),
                shrink=(1,)))
    print("(ids shortened: any unique prefix works; full ids: --json)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Show a pipeline's nodes."""
    eng = engine(quiet=args.json)
    if args.json:
        with eng.connect() as conn:
            (pipe,) = views.pipelines(conn, args.pipeline_id)
            print_json({**pipe, "nodes": views.nodes(conn, [pipe["id"]])})
        return 0
    views.print_pipeline(eng, args.pipeline_id)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a pipeline and its nodes."""
    from video_dagster.db import editing

    with engine().begin() as conn:
        pid = pipeline_id(conn, args.pipeline_id)
        editing.destroy_pipeline(conn, pid)
    print(f"deleted {pid}")
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
    a = add_command(actions, "list", "list pipelines with their progress and cost",
                    "video-dagster pipeline list --json")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_list)
    a = add_command(actions, "show", "a pipeline's nodes: status, validity, errors, output",
                    "video-dagster pipeline show PIPELINE_ID")
    a.add_argument("pipeline_id")
    a.add_argument("--json", action="store_true", help="full values, machine-readable")
    a.set_defaults(func=cmd_show)
    a = add_command(actions, "delete", "delete a pipeline and its nodes",
                    "video-dagster pipeline delete PIPELINE_ID")
    a.add_argument("pipeline_id")
    a.set_defaults(func=cmd_delete)
