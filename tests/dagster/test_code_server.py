"""Our `video` code server: a reload happens in its process, a failed one is served and recovers."""

from __future__ import annotations

import json
import os
import socket
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

from video_dagster.cli import EXAMPLES_DIR, code_server
from video_dagster.db import transfer

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


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
    port = _free_port()
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


def test_run_workers_fork_from_a_server_that_preloaded_the_run_path_not_the_graph() -> None:
    preload = code_server.run_worker_preload()
    assert "dagster._grpc.impl" in preload  # where start_run_in_subprocess lives
    assert preload[-1] == "video_dagster.assets.forkserver"  # freezes the rest: pages shared
    # The worker must build its graph from the run's reconstruction metadata, never at preload.
    assert "video_dagster.definitions" not in preload
    for name in preload:
        __import__(name)  # every entry exists
