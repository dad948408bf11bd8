"""Structured logging: one JSON object per line on stdout, secrets redacted."""

from __future__ import annotations

import json
import re
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime

_SECRET = re.compile(
    r"secret|token|password|passwd|credential|authorization|api[_-]?key|access[_-]?key|session",
    re.IGNORECASE,
)
_MAX_TRACEBACK = 4000


def redact(fields: Mapping[str, object]) -> dict[str, object]:
    """Replace values whose key looks like a secret; nested mappings are redacted too."""
    clean: dict[str, object] = {}
    for key, value in fields.items():
        if _SECRET.search(key):
            clean[key] = "***"
        elif isinstance(value, Mapping):
            clean[key] = redact(value)
        else:
            clean[key] = value
    return clean


class JsonLogger:
    """Writes `{"ts", "level", "logger", "event", ...fields}` lines to the current stdout."""

    def __init__(self, name: str) -> None:
        self.name = name

    def info(self, event: str, **fields: object) -> None:
        """Log a normal step."""
        self._emit("info", event, fields, None)

    def warning(self, event: str, **fields: object) -> None:
        """Log an expected failure (bad input, missing object)."""
        self._emit("warning", event, fields, None)

    def error(self, event: str, exc: BaseException | None = None, **fields: object) -> None:
        """Log an unexpected failure, with the traceback when an exception is given."""
        self._emit("error", event, fields, exc)

    def _emit(
        self, level: str, event: str, fields: Mapping[str, object], exc: BaseException | None
    ) -> None:
        record: dict[str, object] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "logger": self.name,
            "event": event,
            **redact(fields),
        }
        if exc is not None:
            record["exc_type"] = type(exc).__name__
            record["exc"] = str(exc)
            record["traceback"] = "".join(traceback.format_exception(exc))[-_MAX_TRACEBACK:]
        # Resolve stdout at emit time so a redirected stdout (tests, runners) is honoured.
        sys.stdout.write(json.dumps(record, default=str) + "\n")
        sys.stdout.flush()
