"""The CLI package: no command module imports another, every command's --help has an example."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from video_dagster import cli

CLI_DIR = Path(cli.__file__).parent
SHARED = {"common", "environment", "views"}


def _cli_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n.split(".")[2] for n in names if n.startswith("video_dagster.cli.")}
    return found


@pytest.mark.parametrize("path", sorted(CLI_DIR.glob("*.py")), ids=lambda p: p.stem)
def test_modules_import_only_shared_helpers(path):
    if path.stem in {"__init__", "__main__"}:
        return
    allowed = {"common"} if path.stem in SHARED else SHARED
    assert _cli_imports(path) <= allowed, f"{path.name} imports a command module"


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


def test_every_command_has_help_with_an_example():
    commands = list(_commands(cli.build_parser()))
    assert len(commands) > 10
    for path, parser in commands:
        text = parser.format_help()
        assert re.search(r"examples?:\n +.*video-dagster ", text), path
