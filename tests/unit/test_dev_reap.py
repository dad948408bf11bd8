"""`video-dagster dev` ends what `dagster dev` left in its process group (cli/dev.py)."""

from __future__ import annotations

import subprocess
import time

from video_dagster.cli.dev import _group_running, _reap_group


def _group(script: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    deadline = time.monotonic() + 10
    while not _group_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # let the shell start its children
    return proc


def test_leftovers_are_terminated() -> None:
    proc = _group("sleep 300 & sleep 300 & wait")
    assert _group_running(proc.pid)
    _reap_group(proc.pid, grace=5)
    assert not _group_running(proc.pid)
    proc.wait(5)


def test_a_leftover_ignoring_sigterm_is_killed() -> None:
    proc = _group("trap '' TERM; sleep 300 & wait")
    started = time.monotonic()
    _reap_group(proc.pid, grace=0.5)
    assert not _group_running(proc.pid)
    assert time.monotonic() - started < 5
    proc.wait(5)


def test_an_empty_group_returns_at_once() -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait(5)
    started = time.monotonic()
    _reap_group(proc.pid)
    assert time.monotonic() - started < 1
