"""The `video-dagster` command: database, pipelines, validation, demo and Dagster helpers.

One module per command group, each with a `register(subparsers)`; they share only
`common` and `environment`, never each other's commands, so nothing imports in a circle.
"""

from __future__ import annotations

import argparse
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
    from video_dagster.cli import db, demo, dev, pipeline, refresh, rerender, validate

    parser = argparse.ArgumentParser(
        prog="video-dagster", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (db, pipeline, validate, demo, dev, refresh, rerender):
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
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
