"""Helpers shared by the command modules: the database, tables, JSON output, errors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
# Exit status of `validate` and `pipeline import` when the work was done but some node is invalid:
# distinct from 1 (error, nothing done) and 2 (argparse's usage error).
EXIT_INVALID = 3


class CliError(Exception):
    """A refusal the user can act on: printed as one `error:` line, exit status 1."""


def add_command(sub: Any, name: str, summary: str, example: str, **kwargs: Any) -> Any:
    """A sub-command whose --help ends with a runnable example."""
    return sub.add_parser(
        name, help=summary.splitlines()[0], description=summary, epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def describe_database(url: str, embedded: bool) -> str:
    """Which database a command used, without the password."""
    from video_dagster import settings

    shown = sa.make_url(settings.libpq_url(url)).render_as_string(hide_password=True)
    if embedded:
        return f"embedded PostgreSQL in {settings.home_dir()} ({shown})"
    return f"DATABASE_URL ({shown})"


def engine(upgrade_embedded: bool = True, quiet: bool = False) -> sa.Engine:
    """The pipeline database; the embedded one is created and migrated on demand."""
    from video_dagster import settings
    from video_dagster.db import engine as db

    url = db.resolve_database_url()
    embedded = settings.database_url_from_env() is None
    if embedded and upgrade_embedded:
        db.upgrade(url)
    elif db.current_revision(url) is None:
        raise CliError("the database has no schema yet; run `video-dagster db upgrade`")
    if not quiet:
        # stderr: stdout stays parseable (ids, JSON) for scripts.
        print(f"database: {describe_database(url, embedded)}", file=sys.stderr)
    return db.get_engine(url)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], width: int | None = None,
          shrink: Sequence[int] = ()) -> str:
    """A plain-text table; with `width`, the `shrink` columns are cut (ending in …) to fit it."""
    cells = [[" ".join(str(c).split()) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if width is not None and shrink:
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        while excess > 0:
            i = max(shrink, key=lambda j: widths[j])
            if widths[i] <= max(len(headers[i]), 6):
                break  # nothing left to cut sensibly: let the terminal wrap
            widths[i] -= 1
            excess -= 1
        cells = [[clip(c, w) for c, w in zip(r, widths, strict=True)] for r in cells]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in cells]
    return "\n".join(lines)


def clip(text: str, width: int) -> str:
    """The text cut to `width` characters, ending in … when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def resolve_id(conn: sa.Connection, table_name: str, text: str, what: str) -> str:
    """A full id from a full UUID or a unique prefix of one (as `show` and `status` print them)."""
    import re
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    prefix = text.lower()
    if not re.fullmatch(r"[0-9a-f]{4,8}(-[0-9a-f-]{0,27})?", prefix):
        raise CliError(f"{what} {text!r} is not a UUID (or a unique prefix of one)")
    found = conn.execute(
        sa.text(f"SELECT id::text FROM {table_name} WHERE id::text LIKE :p ORDER BY id LIMIT 2"),
        {"p": prefix + "%"}).scalars().all()
    if not found:
        raise CliError(f"no {what} {text}")
    if len(found) > 1:
        raise CliError(f"{what} id prefix {text} is ambiguous; give more characters")
    return str(found[0])


def pipeline_id(conn: sa.Connection, text: str) -> str:
    """The pipeline a command names (full id or unique prefix); CliError when none."""
    pid = resolve_id(conn, "video_production_pipelines", text, "pipeline")
    if conn.execute(sa.text("SELECT 1 FROM video_production_pipelines WHERE id = :id"),
                    {"id": pid}).first() is None:
        raise CliError(f"no pipeline {text}")
    return pid


def node_id(conn: sa.Connection, text: str) -> str:
    """The node a command names (full id or unique prefix); CliError when none."""
    nid = resolve_id(conn, "video_production_nodes", text, "node")
    if conn.execute(sa.text("SELECT 1 FROM video_production_nodes WHERE id = :id"),
                    {"id": nid}).first() is None:
        raise CliError(f"no node {text}")
    return nid


def object_store(env: Mapping[str, str] | None = None) -> Any:
    """The object store configured by the environment (as definitions.build_resources reads it;
    importing definitions would load the whole graph for nothing)."""
    import os

    from video_dagster.resources.object_store import ObjectStoreResource

    env = os.environ if env is None else env
    return ObjectStoreResource(
        backend="s3" if env.get("VIDEO_STORE_BACKEND") == "s3" else "local",
        bucket=env.get("VIDEO_STORE_BUCKET") or "video-dagster",
        endpoint_url=env.get("VIDEO_STORE_ENDPOINT_URL") or None,
        region_name=env.get("AWS_REGION") or None,
    ).get_store()


def print_json(value: Any) -> None:
    """Machine-readable output of a read command (`--json`)."""
    print(json.dumps(value, indent=2, default=str))


def errors_text(errors: dict[str, str]) -> str:
    """Validation errors on one line."""
    return "; ".join(f"{k}: {v}" for k, v in errors.items())
