"""Graph reload: our code server (reload in place) against `dagster code-server start` (baseline).

    python bench/code_server_reload.py                  # 1,000 nodes, 10 reloads each
    python bench/code_server_reload.py --nodes 10000 --reloads 5
    python bench/code_server_reload.py --quick          # 100 nodes, 3 reloads (smoke test)

Both servers serve `video_dagster.definitions` from one scratch database seeded with `--nodes`
asset nodes (pipelines of 20). Each round writes a new two-node pipeline (a structure change, as
the editor makes), then reloads each server in turn — as the refresher does through the webserver —
and times `ReloadCode` plus fetching the new repository snapshot (what the webserver and the
daemon do next). Reported per side: median seconds per reload, the ratio ours/baseline, and the
memory of the server's process tree (PSS: shared pages counted once) after the first and the last
reload: the in-place reload must not keep the graphs it replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from dagster._core.remote_origin import (  # noqa: E402
    GrpcServerCodeLocationOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.remote_representation.external_data import RepositorySnap  # noqa: E402
from dagster._grpc.client import DagsterGrpcClient  # noqa: E402
from dagster_shared.serdes import deserialize_value  # noqa: E402

from bench._pg import scratch_database, server_url  # noqa: E402
from bench.lifecycle import SEED  # noqa: E402 — the same seeded pipelines of asset nodes
from tests.e2e._live import free_port  # noqa: E402
from video_dagster.db import engine as db_engine  # noqa: E402

HOST = "127.0.0.1"
PER_PIPELINE = 20
TARGET = "-m video_dagster.definitions -a defs --location-name video".split()
SIDES = {
    "in place (ours)": [sys.executable, "-m", "video_dagster.cli.code_server",
                        "--lazy-load-user-code", *TARGET],
    "new process (code-server start)": [sys.executable, "-m", "dagster", "code-server", "start",
                                        *TARGET],
}
ADD = (
    "WITH p AS (INSERT INTO video_production_pipelines (title) VALUES (:t) RETURNING id) "
    "INSERT INTO video_production_nodes (pipeline_id, title, type, asset, is_valid) "
    "SELECT p.id, 'node ' || g, 'asset', '{\"content\": \"x\"}', true "
    "FROM p, generate_series(1, 2) g"
)


class Side:
    """One code server on a free port."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.port = name, free_port()
        with log.open("wb") as out:
            self.proc = subprocess.Popen([*cmd, "--host", HOST, "--port", str(self.port)],
                                         env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        self.log = log
        self.client = DagsterGrpcClient(host=HOST, port=self.port)
        self.times: list[float] = []
        self.pss: list[float] = []
        deadline = time.monotonic() + 300
        while True:
            try:
                self.client.ping("")
                return
            except Exception as exc:  # not up yet
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name} did not start:\n{log.read_text()[-3000:]}") from exc
                time.sleep(0.3)

    def snapshot(self) -> RepositorySnap:
        origin = RemoteRepositoryOrigin(
            GrpcServerCodeLocationOrigin(HOST, self.port, location_name="video"),
            "__repository__")
        snap = deserialize_value(self.client.external_repository(origin, defer_snapshots=True))
        if not isinstance(snap, RepositorySnap):
            raise RuntimeError(f"{self.name} serves an error: {snap}")
        return snap

    def reload(self, nodes: int) -> None:
        started = time.perf_counter()
        self.client.reload_code(timeout=600)
        snap = self.snapshot()
        self.times.append(time.perf_counter() - started)
        if len(snap.asset_nodes) != nodes:
            raise RuntimeError(f"{self.name}: {len(snap.asset_nodes)} assets, expected {nodes}")
        self.pss.append(tree_pss_mb(self.proc.pid))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tree_pss_mb(pid: int) -> float:
    """PSS of a process and its descendants, in MB (USS where PSS is not readable)."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += getattr(info, "pss", info.uss)
    return total / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="100 nodes, 3 reloads")
    args = parser.parse_args(argv)
    nodes, reloads = (100, 3) if args.quick else (args.nodes, args.reloads)
    root = Path(tempfile.mkdtemp(prefix="vd-reload-"))
    sides: list[Side] = []
    with server_url() as (server, where), scratch_database(server) as url:
        try:
            db_engine.upgrade(url)
            engine = db_engine.get_engine(url)
            with engine.begin() as conn:
                conn.execute(sa.text(SEED[0]), {"p": max(1, nodes // PER_PIPELINE)})
                conn.execute(sa.text(SEED[1]), {"n": PER_PIPELINE})
                total = conn.execute(sa.text(
                    "SELECT count(*) FROM video_production_nodes")).scalar_one()
            print(f"database: {where}; {total} nodes; {reloads} reloads per side", flush=True)
            env = {**os.environ, "DATABASE_URL": url, "DAGSTER_HOME": str(root),
                   "VIDEO_DAGSTER_HOME": str(root / "home")}
            for i, (name, cmd) in enumerate(SIDES.items()):
                sides.append(Side(name, cmd, env, root / f"server{i}.log"))
            for side in sides:
                side.reload(total)  # warm-up, not counted
                side.times.clear()
            for n in range(reloads):
                with engine.begin() as conn:
                    conn.execute(sa.text(ADD), {"t": f"added {n}"})
                total += 2
                for side in sides if n % 2 == 0 else reversed(sides):  # alternate the order
                    side.reload(total)
            med = {s.name: statistics.median(s.times) for s in sides}
            for side in sides:
                print(f"{side.name}: reload {med[side.name]:.2f}s median "
                      f"(min {min(side.times):.2f}s, max {max(side.times):.2f}s); memory of the "
                      f"server's processes {side.pss[0]:.0f} MB after the first reload, "
                      f"{side.pss[-1]:.0f} MB after the last", flush=True)
            ours, base = (med[name] for name in SIDES)
            print(f"reload in place / new process: {ours / base:.2f}x the time")
            print(json.dumps({"nodes": total, "reload_s": med,
                              "pss_mb": {s.name: [s.pss[0], s.pss[-1]] for s in sides}}))
        finally:
            for side in sides:
                side.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
