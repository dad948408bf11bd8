"""Issue 7.8: a killed local runner fails its node in seconds, takes FFmpeg and its folder along."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil

from lambdas.common.workdir import sweep
from video_dagster.resources.lambda_crashes import crash_message
from video_dagster.resources.lambda_invoker import LocalLambdaInvoker

ROOT = Path(__file__).resolve().parents[2]


def _event(tmp_path: Path) -> dict[str, object]:
    return {"node_uuid": "n-1", "executor_type": "merge-videos", "process_uuid": "p-1",
            "output_uri": f"file://{tmp_path}/store/b/out.mp4",
            "callback_uri": f"file://{tmp_path}/store/b/callbacks/n-1/p-1.json"}


def _until(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_kill_9_of_the_runner_fails_the_node_in_seconds_and_kills_ffmpeg(tmp_path: Path) -> None:
    invoker = LocalLambdaInvoker(tmp_path / "logs", runner_module="tests.lambdas._slow_runner",
                                 cwd=ROOT)
    event = _event(tmp_path)
    receipt = invoker.invoke_async("slow", event)
    _, log_path = invoker.paths("slow", receipt.request_id)
    runner = next(c for c in _children() if "tests.lambdas._slow_runner" in " ".join(c.cmdline()))
    ffmpeg = _until(lambda: [c for c in runner.children() if "ffmpeg" in c.name()], 30,
                    "the runner never started ffmpeg")[0]
    folders = _until(lambda: list(invoker.tmp_dir.iterdir()), 5, "no work folder")
    assert os.getpgid(ffmpeg.pid) == runner.pid  # in the runner's group

    killed_at = time.monotonic()
    os.kill(runner.pid, signal.SIGKILL)
    callback = Path(str(event["callback_uri"]).removeprefix("file://"))
    _until(callback.exists, 10, "no failure callback after the kill")
    elapsed = time.monotonic() - killed_at
    body = json.loads(callback.read_text())
    assert body["error_type"] == "LambdaCrashed" and body["node_uuid"] == "n-1"
    assert "SIGKILL" in body["error"] and "exit status -9" in body["error"]
    assert str(log_path) in body["error"]
    assert elapsed < 5, f"noticed after {elapsed:.1f}s"
    _until(lambda: not ffmpeg.is_running() or ffmpeg.status() == psutil.STATUS_ZOMBIE, 5,
           "ffmpeg outlived its runner")
    assert not any(f.exists() for f in folders), "the dead runner's temp folder leaked"


def test_a_clean_exit_writes_nothing_and_a_sweep_spares_the_living(tmp_path: Path) -> None:
    (tmp_path / "video_merger-999999999-abc").mkdir()  # no such pid: swept
    alive = tmp_path / f"video_merger-{os.getpid()}-abc"
    alive.mkdir()
    (tmp_path / "unrelated").mkdir()
    assert sweep(tmp_path) == [tmp_path / "video_merger-999999999-abc"]
    assert alive.exists() and (tmp_path / "unrelated").exists()
    assert sweep(tmp_path, os.getpid()) == [alive]
    message = crash_message("video_merger", 7, 2, Path("/x.log"))
    assert message == ("local Lambda video_merger (pid 7) exited with status 2 without calling "
                       "back; log: /x.log")


def test_a_runner_that_cannot_run_fails_the_node_with_its_status(tmp_path: Path) -> None:
    invoker = LocalLambdaInvoker(tmp_path / "logs", cwd=ROOT)
    event = _event(tmp_path)
    invoker.invoke_async("no_such_function", event)
    callback = Path(str(event["callback_uri"]).removeprefix("file://"))
    _until(callback.exists, 20, "no failure callback")
    assert "exited with status 2" in json.loads(callback.read_text())["error"]


def _children() -> list[psutil.Process]:
    return psutil.Process().children(recursive=False)
