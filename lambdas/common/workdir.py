"""Private temp folders named after their process, and the sweep of dead processes' folders."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMPDIR_ENV = "LAMBDA_TMPDIR"
# The merger's historical variable, still honoured.
LEGACY_TMPDIR_ENV = "VIDEO_MERGER_TMPDIR"
# `<function>-<pid>-<random>`: the pid says whose folder it is once its process is gone.
_OWNED = re.compile(r"^([a-z][a-z0-9_]*)-(\d+)-[^/]+$")


def tmp_root(explicit: str | None = None) -> str | None:
    """Where work folders go: the argument, LAMBDA_TMPDIR, VIDEO_MERGER_TMPDIR or the system's."""
    return explicit or os.environ.get(TMPDIR_ENV) or os.environ.get(LEGACY_TMPDIR_ENV) or None


@contextmanager
def work_dir(function: str, root: str | None = None) -> Iterator[Path]:
    """A private folder for one invocation, removed on every path out."""
    prefix = f"{function}-{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=tmp_root(root)) as tmp:
        yield Path(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(root: str | os.PathLike[str], pid: int | None = None) -> list[Path]:
    """Remove work folders of `pid` (or of every dead process) under root; returns them."""
    removed: list[Path] = []
    try:
        entries = list(Path(root).iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = _OWNED.match(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink():
            continue
        owner = int(match.group(2))
        if (pid is not None and owner == pid) or (pid is None and not _alive(owner)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
