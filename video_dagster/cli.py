"""The `video-dagster` command: database, pipelines, validation, demo, Dagster helpers."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

EXAMPLES_DIR = Path(__file__).parent / "examples"


def _engine(upgrade_embedded: bool = True) -> sa.Engine:
    """The pipeline database; the embedded one is created and migrated on demand."""
    from video_dagster import settings
    from video_dagster.db import engine as db

    url = db.resolve_database_url()
    if settings.database_url_from_env() is None and upgrade_embedded:
        db.upgrade(url)
    elif db.current_revision(url) is None:
        raise SystemExit("error: the database has no schema yet; run `video-dagster db upgrade`")
    return db.get_engine(url)


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _errors_text(errors: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in errors.items())


def print_pipeline(engine: sa.Engine, pipeline_id: str) -> None:
    """A table of a pipeline's nodes: status, validity, errors, output."""
    from video_dagster.db import editing

    with engine.connect() as conn:
        title = conn.execute(
            sa.text("SELECT title, metadata FROM video_production_pipelines WHERE id = :id"),
            {"id": editing.check_uuid(pipeline_id, "pipeline")},
        ).first()
        if title is None:
            raise SystemExit(f"error: no pipeline {pipeline_id}")
        nodes = editing.list_nodes(conn, pipeline_id)
    print(f"{title.title}  ({pipeline_id})")
    progress = (title.metadata or {}).get("progress")
    if progress:
        print("progress: " + ", ".join(f"{k} {v}" for k, v in progress.items()))
    rows = []
    for n in nodes:
        detail = _errors_text(n.validation_errors) if n.validation_errors else ""
        error = (n.metadata or {}).get("error")
        if error:
            detail = f"error: {error}"
        elif n.output:
            detail = n.output.get("uri") or n.output.get("s3Key") or ""
        rows.append((n.id, n.type, n.title, n.status, "yes" if n.is_valid else "no", detail))
    print(_table(rows, ("node", "type", "title", "status", "valid", "errors / output")))


def cmd_db(args: argparse.Namespace) -> int:
    from video_dagster import settings
    from video_dagster.db import embedded
    from video_dagster.db import engine as db

    if args.action == "upgrade":
        url = db.resolve_database_url()
        db.upgrade(url)
        print(f"schema at revision {db.current_revision(url)}")
    elif args.action == "url":
        print(db.resolve_database_url())
    elif args.action == "stop":
        if settings.database_url_from_env():
            print("DATABASE_URL is set; nothing embedded to stop")
        else:
            print("stopped" if embedded.stop() else "embedded database was not running")
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from video_dagster.db import editing, transfer

    engine = _engine()
    if args.action == "import":
        path = Path(args.target)
        if not path.exists() and (EXAMPLES_DIR / args.target).exists():
            path = EXAMPLES_DIR / args.target
        try:
            doc = transfer.read_document(path)
        except transfer.DocumentError as exc:
            raise SystemExit(f"error: {exc}") from None
        try:
            with engine.begin() as conn:
                pid = transfer.import_pipeline(conn, doc)
        except transfer.DocumentError as exc:
            raise SystemExit(f"error: {path}: {exc}") from exc
        print(pid)
    elif args.action == "export":
        with engine.connect() as conn:
            print(json.dumps(transfer.export_pipeline(conn, args.target), indent=2))
    elif args.action == "list":
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT id, title, metadata -> 'progress' AS progress "
                    "FROM video_production_pipelines ORDER BY created_at, id"
                )
            ).all()
        print(
            _table(
                [(r.id, r.title, json.dumps(r.progress or {})) for r in rows],
                ("pipeline", "title", "progress"),
            )
        )
    elif args.action == "show":
        print_pipeline(engine, args.target)
    elif args.action == "delete":
        with engine.begin() as conn:
            editing.destroy_pipeline(conn, args.target)
        print(f"deleted {args.target}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from video_dagster.db import validation

    engine = _engine()
    if args.pipeline:
        results = validation.validate_pipelines(engine, [args.pipeline])
    else:
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(sa.text(
                "SELECT id::text FROM video_production_pipelines ORDER BY id"))]
        results = validation.validate_pipelines(engine, ids)
    for r in results:
        print(f"{r.pipeline_id}: {r.nodes} nodes, {r.invalid} invalid, {r.written} updated")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per area)."""
    parser = argparse.ArgumentParser(prog="video-dagster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("db", help="database: upgrade | url | stop")
    p.add_argument("action", choices=["upgrade", "url", "stop"])
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("pipeline", help="import FILE | export ID | list | show ID | delete ID")
    p.add_argument("action", choices=["import", "export", "list", "show", "delete"])
    p.add_argument("target", nargs="?", help="a JSON file (import) or a pipeline id")
    p.set_defaults(func=cmd_pipeline)

    p = sub.add_parser("validate", help="validate pipelines and write is_valid/validation_errors")
    p.add_argument("--pipeline", help="only this pipeline")
    p.set_defaults(func=cmd_validate)

    from video_dagster import cli_dagster

    cli_dagster.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    import warnings

    # Dagster flags the state-backed loader API as preview on every load, and platformdirs warns
    # when XDG_RUNTIME_DIR is unset; neither is actionable for someone running a command.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    warnings.filterwarnings("ignore", message=".*is currently in preview.*")
    args = build_parser().parse_args(argv)
    if args.command == "pipeline" and args.action != "list" and not args.target:
        raise SystemExit(f"error: pipeline {args.action} needs a target")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
