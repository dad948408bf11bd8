"""The `video-dagster` command: database, pipelines, validation, demo and Dagster helpers.

One module per command group, each with a `register(subparsers)`; they share only
`common` and `environment`, never each other's commands, so nothing imports in a circle.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from video_dagster.cli.common import EXAMPLES_DIR, CliError

__all__ = ["EXAMPLES_DIR", "CliError", "build_parser", "main"]

EPILOG = """examples:
  video-dagster dev                                  # database + Dagster UI on :3000
  video-dagster pipeline import merge_clips.json     # prints the new pipeline id
  video-dagster pipeline show PIPELINE_ID
  video-dagster rerender PIPELINE_ID

Every command accepts --help and shows an example of its own."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-command (or group) per module."""
    from video_dagster.cli import (
        db,
        demo,
        dev,
        pipeline,
        preview,
        refresh,
        rerender,
        status,
        validate,
    )
    from video_dagster.emulators import cli as emulators

    parser = argparse.ArgumentParser(
        prog="video-dagster", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = (db, pipeline, validate, status, preview, demo, dev, refresh, rerender, emulators)
    for module in commands:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    import warnings

    # Dagster flags the state-backed loader API as preview on every load, and platformdirs warns
    # when XDG_RUNTIME_DIR is unset; neither is actionable for someone running a command.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    warnings.filterwarnings("ignore", message=".*is currently in preview.*")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and point stdout at /dev/null so the
        # interpreter's final flush does not raise again on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        message = user_error(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1


def user_error(exc: BaseException) -> str | None:
    """One line for an error the user can act on; None for a bug (which keeps its traceback)."""
    if isinstance(exc, CliError):
        return str(exc)
    # Only modules already imported can have raised: look the types up without importing more.
    known = [
        ("video_dagster.db.editing", "EditError"),
        ("video_dagster.db.transfer", "DocumentError"),
        ("video_dagster.refresh", "ReloadFailed"),
    ]
    for module, name in known:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return str(exc).splitlines()[0] if str(exc) else name
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        try:
            url = str(exc.request.url)
        except (AttributeError, RuntimeError):  # httpx raises RuntimeError when no request is set
            url = "the webserver"
        return f"cannot reach Dagster at {url}: {_first_line(exc)}"
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
        return f"cannot use the database: {_first_line(exc.orig or exc)}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
