"""Root logging for the Dagster processes `video-dagster dev` starts: no line printed twice.

dagster-postgres retries a lost connection with the module-level `logging.warning(...)`, which
calls `logging.basicConfig()` when the root logger has no handler. From that first reconnect on,
the root logger holds a stderr handler and every record of Dagster's own loggers (which have their
coloured handler and propagate) is printed a second time, as `INFO:dagster.daemon...:`. Giving
root a handler first makes that `basicConfig()` a no-op; the handler prints only records no other
handler printed, at WARNING and above, like Python's last-resort handler it stands in for.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

SITE_DIR_NAME = "python-startup"
SITECUSTOMIZE = (
    '"""Written by `video-dagster dev`: see video_dagster/logsetup.py."""\n'
    "from video_dagster.logsetup import install\n"
    "\n"
    "install()\n"
)


def handled_before_root(record: logging.LogRecord) -> bool:
    """Whether a handler between the record's logger and root has already emitted it."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None and logger is not logging.root:
        if any(record.levelno >= h.level for h in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


class RootHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr, WARNING and above, only for records nobody printed yet."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setLevel(logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        self.addFilter(lambda record: not handled_before_root(record))


def install() -> None:
    """Give the root logger our handler unless it has one (so basicConfig stays a no-op)."""
    if not logging.root.handlers:
        logging.root.addHandler(RootHandler())


def startup_env(home: Path) -> dict[str, str]:
    """PYTHONPATH entries making every Python process of the environment run `install()`."""
    site = home / SITE_DIR_NAME
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    paths = [str(site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(paths)}
