"""Read-only views shared by several commands (show, demo, status)."""

from __future__ import annotations

import sqlalchemy as sa

from video_dagster.cli.common import CliError, errors_text, table


def print_pipeline(eng: sa.Engine, pipeline_id: str) -> None:
    """A table of a pipeline's nodes: status, validity, errors, output."""
    from video_dagster.db import editing

    with eng.connect() as conn:
        title = conn.execute(
            sa.text("SELECT title, metadata FROM video_production_pipelines WHERE id = :id"),
            {"id": editing.check_uuid(pipeline_id, "pipeline")},
        ).first()
        if title is None:
            raise CliError(f"no pipeline {pipeline_id}")
        nodes = editing.list_nodes(conn, pipeline_id)
    print(f"{title.title}  ({pipeline_id})")
    progress = (title.metadata or {}).get("progress")
    if progress:
        print("progress: " + ", ".join(f"{k} {v}" for k, v in progress.items()))
    rows = []
    for n in nodes:
        detail = errors_text(n.validation_errors) if n.validation_errors else ""
        error = (n.metadata or {}).get("error")
        if error:
            detail = f"error: {error}"
        elif n.output:
            detail = n.output.get("uri") or n.output.get("s3Key") or ""
        rows.append((n.id, n.type, n.title, n.status, "yes" if n.is_valid else "no", detail))
    print(table(rows, ("node", "type", "title", "status", "valid", "errors / output")))
