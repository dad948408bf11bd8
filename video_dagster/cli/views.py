"""Read-only views shared by several commands (show, list, status, demo): data, then text."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from video_dagster.cli.common import clip, errors_text, table
from video_dagster.cli.common import pipeline_id as resolve_pipeline

PIPELINES = sa.text(
    "SELECT id::text AS id, title, metadata, created_at, updated_at "
    "FROM video_production_pipelines {where} ORDER BY created_at, id"
)
NODES = sa.text(
    "SELECT id::text AS id, pipeline_id::text AS pipeline_id, title, type, status, is_valid, "
    "validation_errors, metadata, output, attempt, failures, updated_at "
    "FROM video_production_nodes WHERE pipeline_id = ANY(CAST(:ids AS uuid[])) "
    "ORDER BY created_at, id"
)


UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def terminal_width() -> int:
    """Columns to fit tables into (80 when not a terminal)."""
    return shutil.get_terminal_size((80, 24)).columns


def pipelines(conn: sa.Connection, pipeline_id: str | None = None) -> list[dict[str, Any]]:
    """Pipelines with progress and cost, as plain data."""
    if pipeline_id is None:
        rows = conn.execute(sa.text(PIPELINES.text.format(where=""))).all()
    else:
        rows = conn.execute(sa.text(PIPELINES.text.format(where="WHERE id = :id")),
                            {"id": resolve_pipeline(conn, pipeline_id)}).all()
    out = []
    for r in rows:
        meta = r.metadata or {}
        out.append({"id": r.id, "title": r.title, "progress": meta.get("progress") or {},
                    "totalCost": meta.get("totalCost"),
                    "estimatedTotalCost": meta.get("estimatedTotalCost"),
                    "created_at": r.created_at, "updated_at": r.updated_at})
    return out


def nodes(conn: sa.Connection, pipeline_ids: list[str]) -> list[dict[str, Any]]:
    """Nodes of the given pipelines with what an operator asks first: state, why, output."""
    rows = conn.execute(NODES, {"ids": pipeline_ids}).all()
    out = []
    for r in rows:
        meta = r.metadata or {}
        out.append({
            "id": r.id, "pipeline_id": r.pipeline_id, "title": r.title, "type": r.type,
            "status": r.status, "is_valid": r.is_valid,
            "validation_errors": r.validation_errors or {}, "error": meta.get("error"),
            "stage": meta.get("stage"), "started_at": meta.get("started_at"),
            "completed_at": meta.get("completed_at"), "cost": meta.get("cost"),
            "attempt": r.attempt, "failures": r.failures, "output": r.output,
            "updated_at": r.updated_at,
        })
    return out


def detail(node: dict[str, Any]) -> str:
    """Why a node is where it is: its error, its validation errors, or its output."""
    if node["error"]:
        return f"error: {node['error']}"
    if node["validation_errors"]:
        # Node ids in messages (cycles) shortened the way the table shows them.
        return UUID_RE.sub(lambda m: m.group(0)[:8], errors_text(node["validation_errors"]))
    output = node["output"] or {}
    return str(output.get("uri") or output.get("s3Key") or output.get("text") or "")


def age(moment: Any, now: datetime | None = None) -> str:
    """How long ago, compactly (`45s`, `12m`, `3h`, `2d`); "" when unknown."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return ""
    if not isinstance(moment, datetime):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def progress_bar(progress: dict[str, Any], width: int = 20) -> str:
    """`[######....] 3/5` (completed of total; failed shown as `!`)."""
    total = int(progress.get("total") or 0)
    done = int(progress.get("completed") or 0)
    failed = int(progress.get("failed") or 0)
    if total <= 0:
        return "[" + " " * width + "] 0/0"
    filled = round(width * done / total)
    bad = min(width - filled, round(width * failed / total))
    return f"[{'#' * filled}{'!' * bad}{'.' * (width - filled - bad)}] {done}/{total}"


def counts(progress: dict[str, Any]) -> str:
    """`2 running, 1 failed, 3 pending` (zeros left out)."""
    names = (("in_progress", "running"), ("failed", "failed"), ("pending", "pending"),
             ("completed", "completed"))
    parts = [f"{progress.get(k)} {label}" for k, label in names if progress.get(k)]
    return ", ".join(parts) or "no nodes"


def money(value: Any) -> str:
    """A cost in dollars (sub-cent amounts kept visible), or "-" when unknown."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return "-"
    if amount == 0 or abs(amount) >= 0.1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}" if abs(amount) >= 0.0001 else "<$0.0001"


def print_pipeline(eng: sa.Engine, pipeline_id: str, width: int | None = None) -> None:
    """A pipeline's nodes fitted to the terminal: one line per node, its error or output below."""
    width = width or terminal_width()
    with eng.connect() as conn:
        (pipe,) = pipelines(conn, pipeline_id)
        rows = nodes(conn, [pipe["id"]])
    print(f"{pipe['title']}  ({pipe['id']})")
    if pipe["progress"]:
        print(f"progress: {progress_bar(pipe['progress'])}  {counts(pipe['progress'])}")
    print(f"cost: {money(pipe['totalCost'])} of {money(pipe['estimatedTotalCost'])} estimated")
    cells = [(n["id"][:8], n["type"], n["title"],
              n["status"] if n["is_valid"] else f"{n['status']} (invalid)") for n in rows]
    lines = table(cells, ("node", "type", "title", "status"), width=width,
                  shrink=(1, 2)).splitlines()
    print("\n".join(lines[:2]))
    for line, node in zip(lines[2:], rows, strict=True):
        print(line)
        if text := detail(node):
            # Below the row, where it has the whole width: errors are what an operator reads.
            print(clip(f"          {text}", width))
    print("(ids shortened: any unique prefix works; full values: --json)")
