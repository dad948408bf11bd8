"""Our `video` code server: a reload happens in its process, a failed one is served and recovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import ListRepositoriesResponse
from dagster._utils.error import SerializableErrorInfo
from dagster_shared.serdes import deserialize_value

from tests.e2e._live import free_port
from video_dagster.cli import EXAMPLES_DIR, code_server
from video_dagster.db import transfer

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    client: DagsterGrpcClient
    port: int
    log: Path

    def snapshot(self) -> RepositorySnap:
        origin = RemoteRepositoryOrigin(
            GrpcServerCodeLocationOrigin(HOST, self.port, location_name="video"),
            "__repository__")
        snap = deserialize_value(self.client.external_repository(origin, defer_snapshots=True))
        assert isinstance(snap, RepositorySnap), snap
        return snap

    def repositories(self) -> ListRepositoriesResponse | SerializableErrorInfo:
        reply = self.client.list_repositories()
        return deserialize_value(reply) if isinstance(reply, str) else reply  # an error

    def reload(self) -> str:
        before = self.client.get_server_id()
        self.client.reload_code(timeout=120)
        after = self.client.get_server_id()
        assert after != before, "a reload gives the server a new id (watchers fetch again)"
        assert self.proc.poll() is None, self.log.read_text()
        return after


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "code_server.log"
    env = {**os.environ, "DATABASE_URL": db_url, "DAGSTER_HOME": str(tmp_path),
           "VIDEO_DAGSTER_HOME": str(tmp_path / "home")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "video_dagster.cli.code_server", "-m",
             "video_dagster.definitions", "-a", "defs", "--location-name", "video",
             "--lazy-load-user-code", "--host", HOST, "--port", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    client = DagsterGrpcClient(host=HOST, port=port)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                client.ping("")
                break
            except Exception:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "code server did not start"
                time.sleep(0.3)
        yield Server(proc, client, port, log)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _merge_doc() -> dict:
    return json.loads((EXAMPLES_DIR / "merge_clips.json").read_text())


def test_a_new_pipeline_is_served_after_a_reload_in_the_same_process(
        server: Server, engine: sa.Engine) -> None:
    assert server.snapshot().asset_nodes == []
    with engine.begin() as conn:
        transfer.import_pipeline(conn, _merge_doc())
    server.reload()
    nodes = len(_merge_doc()["nodes"])
    assert len(server.snapshot().asset_nodes) == nodes
    # Twice more: each reload builds from the database again, in the same process.
    with engine.begin() as conn:
        transfer.import_pipeline(conn, _merge_doc())
    server.reload()
    server.reload()
    assert len(server.snapshot().asset_nodes) == 2 * nodes
    assert "Reloading definitions from a code server launched via `dagster api grpc`" \
        not in server.log.read_text()


def test_a_failed_reload_is_served_as_the_locations_error_and_the_next_one_recovers(
        server: Server, engine: sa.Engine) -> None:
    with engine.begin() as conn:
        transfer.import_pipeline(conn, _merge_doc())
        conn.execute(sa.text("ALTER TABLE video_production_nodes RENAME TO nodes_away"))
    server.reload()
    error = server.repositories()
    assert isinstance(error, SerializableErrorInfo), error
    assert 'relation "video_production_nodes" does not exist' in error.to_string()
    assert server.proc.poll() is None
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE nodes_away RENAME TO video_production_nodes"))
    server.reload()
    assert isinstance(server.repositories(), ListRepositoriesResponse)
    assert len(server.snapshot().asset_nodes) == len(_merge_doc()["nodes"])


def test_changed_code_is_served_as_an_error_asking_for_a_restart(
        server: Server, engine: sa.Engine) -> None:
    # A reload re-reads the database only: code edited since the start must not run half-new.
    source = ROOT / "video_dagster" / "assets" / "translator.py"
    stat = source.stat()
    try:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        server.reload()
        error = server.repositories()
        assert isinstance(error, SerializableErrorInfo), error
        text = error.to_string()
        assert "video_dagster/assets/translator.py" in text, text
        assert "Restart the code server" in text, text
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    server.reload()  # the same code as at the start again (mtime restored): served again
    assert isinstance(server.repositories(), ListRepositoriesResponse)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def test_a_run_worker_outliving_its_forkserver_still_reads_as_running() -> None:
    from multiprocessing import forkserver

    ctx = code_server.RunWorkerContext()  # no preload: a plain forkserver is enough here
    worker = ctx.Process(target=_sleep, args=(4,))
    worker.start()
    try:
        server_pid = forkserver._forkserver._forkserver_pid
        assert server_pid is not None and worker.is_alive()
        os.kill(server_pid, signal.SIGKILL)  # the OOM killer, a stray kill
        while code_server.pid_running(server_pid):  # a zombie now: ensure_running reaps it
            time.sleep(0.05)
        # Plain multiprocessing now says "exited with 255": Dagster would fail the run.
        assert worker.is_alive(), "a running worker taken for dead"
        assert worker.pid is not None and code_server.pid_running(worker.pid)
        deadline = time.monotonic() + 20
        while worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not worker.is_alive(), "and dead once it has ended"
    finally:
        if worker.pid is not None and code_server.pid_running(worker.pid):
            os.kill(worker.pid, signal.SIGKILL)
        forkserver.ensure_running()  # a new one for whoever forks next in this process


def test_run_workers_fork_from_a_server_that_preloaded_the_run_path_not_the_graph() -> None:
    preload = code_server.run_worker_preload()
    assert "dagster._grpc.impl" in preload  # where start_run_in_subprocess lives
    assert preload[-1] == "video_dagster.assets.forkserver"  # freezes the rest: pages shared
    # The worker must build its graph from the run's reconstruction metadata, never at preload.
    assert "video_dagster.definitions" not in preload
    for name in preload:
        __import__(name)  # every entry exists
