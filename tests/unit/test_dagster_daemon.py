"""Our entry points in `dagster dev`: the daemon (one-second sensor round) and the code server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import dagster._daemon.sensor as sensor_daemon
import pytest

from video_dagster.cli import dagster_daemon, dagster_dev


def test_fast_loop_sets_the_sensor_round(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME", 5)
    dagster_daemon.use_fast_sensor_loop()
    assert sensor_daemon.MIN_INTERVAL_LOOP_TIME == dagster_daemon.SENSOR_LOOP_SECONDS == 1.0


def test_fast_loop_refuses_a_dagster_without_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME")
    with pytest.raises(RuntimeError, match="MIN_INTERVAL_LOOP_TIME"):
        dagster_daemon.use_fast_sensor_loop()


def test_dagster_dev_starts_our_daemon_and_nothing_else_changes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    def record(parts: list[str], **kwargs: Any) -> str:
        started.append(parts)
        return "proc"

    monkeypatch.setattr(dagster_dev, "_open_ipc_subprocess", record)
    daemon = ["python", "-m", "dagster._daemon", "run", "--shutdown-pipe", "7", "-w", "w.yaml"]
    webserver = ["python", "-m", "dagster_webserver", "--port", "3000"]
    assert dagster_dev._open_with_our_daemon(daemon, pass_fds=[7]) == "proc"
    dagster_dev._open_with_our_daemon(webserver)
    assert started == [
        ["python", "-m", "video_dagster.cli.dagster_daemon", "run", "--shutdown-pipe", "7",
         "-w", "w.yaml"],
        webserver,
    ]


def test_entry_point_is_dagsters_daemon_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "video_dagster.cli.dagster_daemon", "run",
                          "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--shutdown-pipe" in out.stdout or "Run any daemons" in out.stdout, out.stdout


def test_dagster_dev_serves_video_with_our_code_server_and_other_locations_unchanged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    def record(parts: list[str], **kwargs: Any) -> str:
        started.append(parts)
        return "proc"

    monkeypatch.setattr(dagster_dev, "_open_server_subprocess", record)
    start = ["python", "-m", "dagster", "code-server", "start", "--socket", "/tmp/s",
             "--heartbeat", "--location-name", "{name}", "-m", "{module}", "-a", "defs"]

    def cmd(name: str, module: str) -> list[str]:
        return [p.format(name=name, module=module) for p in start]

    assert dagster_dev._open_with_our_code_server(
        cmd("video", "video_dagster.definitions"), cwd="/x") == "proc"
    dagster_dev._open_with_our_code_server(cmd("video_control", "video_dagster.control"))
    grpc = ["python", "-m", "dagster", "api", "grpc", "-m", "video_dagster.definitions"]
    dagster_dev._open_with_our_code_server(grpc)  # not a `code-server start`: left alone
    assert started == [
        ["python", "-m", "video_dagster.cli.code_server", "--lazy-load-user-code",
         *cmd("video", "video_dagster.definitions")[5:]],
        cmd("video_control", "video_dagster.control"),
        grpc,
    ]


def test_code_server_entry_point_is_dagsters_api_grpc_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "video_dagster.cli.code_server", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--lazy-load-user-code" in out.stdout, out.stdout
