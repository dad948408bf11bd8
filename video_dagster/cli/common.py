"""Helpers shared by the command modules: the database, tables, JSON output, errors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
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


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str],
          max_widths: Sequence[int] | None = None) -> str:
    """A plain-text table; cells wider than their column's limit end with an ellipsis."""
    cells = [[str(c) for c in r] for r in rows]
    if max_widths is not None:
        cells = [[_clip(c, m) for c, m in zip(r, max_widths, strict=True)] for r in cells]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in cells]
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if width <= 0 or len(text) <= width else text[: max(width - 1, 0)] + "…"


def print_json(value: Any) -> None:
    """Machine-readable output of a read command (`--json`)."""
    print(json.dumps(value, indent=2, default=str))


def errors_text(errors: dict[str, str]) -> str:
    """Validation errors on one line."""
    return "; ".join(f"{k}: {v}" for k, v in errors.items())
