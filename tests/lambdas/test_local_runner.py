"""`python -m lambdas.local_runner` in a subprocess, as the local Lambda invoker starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.lambdas.conftest import Clips, EventFactory, read_callback

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], work_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIDEO_MERGER_TMPDIR": str(work_root)}
    return subprocess.run([sys.executable, "-m", "lambdas.local_runner", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_runner_merges_writes_callback_and_deletes_event(
    clips: Clips, make_event: EventFactory, tmp_path: Path, work_root: Path
) -> None:
    event = make_event([clips.a, clips.b])
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    proc = _run(["video_merger", str(event_path)], work_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_callback(event)["result"]["mode"] == "copy"
    assert not event_path.exists()
    assert all(json.loads(line) for line in proc.stdout.splitlines())


def test_runner_exits_zero_when_the_function_reports_an_error(
    make_event: EventFactory, tmp_path: Path, work_root: Path
) -> None:
    event = make_event([tmp_path / "missing.mp4", tmp_path / "also-missing.mp4"])
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    proc = _run(["video_merger", str(event_path)], work_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_callback(event)["error_type"] == "InputNotFound"


def test_runner_fails_when_it_cannot_run(tmp_path: Path, work_root: Path) -> None:
    event_path = tmp_path / "event.json"
    event_path.write_text("{not json")
    assert _run(["video_merger", str(event_path)], work_root).returncode == 2
    assert event_path.exists()  # kept for inspection
    assert _run(["no_such_function", str(event_path)], work_root).returncode == 2
    assert _run(["../etc", str(event_path)], work_root).returncode == 2
    assert _run([], work_root).returncode == 2
