"""Fault injection shared by the emulators: matched by method and path, consumed by count."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """Answer `times` matching requests with `status` (or delay them) instead of serving them.

    `code`/`message` fill the provider's error envelope; `retry_after` sets the header; `delay`
    sleeps before serving; `delay_after` serves (and bills) first, then sleeps — a lost response;
    `body` answers with that raw text instead.
    """

    method: str
    path: str  # regular expression, matched against the request path
    status: int | None = None
    code: str = "server_error"
    message: str = "injected fault"
    retry_after: float | None = None
    delay: float = 0.0
    delay_after: float = 0.0
    times: int = 1
    # A raw body served instead of the envelope (status 200 unless `status` is set): a hostile
    # or broken provider (HTML at 200, wrong JSON shape, odd job ids).
    body: str | None = None
    content_type: str = "application/json"


class FaultBook:
    """Thread-safe list of pending faults."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop all pending faults."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*") and re.search(fault.path, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
