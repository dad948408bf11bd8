"""Provider orchestration overhead and pool concurrency, against the loopback emulators.

    python bench/providers.py            # 10 narration pairs + 20 queued voiceovers, pool cap 3
    python bench/providers.py --quick    # smoke variant (2 pairs, 6 queued)

1. Overhead: each voiceover and talking-head node's wall time through Dagster (step start to
   step success) minus the emulator's own work for that node (FFmpeg time, render wait), median
   over the nodes (target <= 0.5 s). Baseline in the same run: the same provider calls made
   directly with the clients (no Dagster, no database); the ratio is Dagster / direct.
2. Concurrency: N voiceover nodes in one run on the multiprocess executor with the
   `video_elevenlabs` pool capped; the emulator records the most requests it held at once,
   which must equal the cap (never above it) while every node completes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from bench._pg import on_database, scratch_database, server_url  # noqa: E402

TARGET_OVERHEAD = 0.5
LATENCY = 2.0  # seconds each emulated TTS request takes in the concurrency part
SCRIPT = "Welcome to the show. Today we look at pipelines, providers and polling."


def _doc(pairs: int, heads: bool) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = []
    for i in range(pairs):
        nodes.append({"id": f"s{i}", "title": f"Script {i}", "type": "asset",
                      "asset": {"type": "text", "content": f"{SCRIPT} Part {i}."}})
        nodes.append({"id": f"v{i}", "title": f"Voice {i}", "type": "generate-voiceover",
                      "inputs": {"script": f"s{i}"}, "config": {"provider": "elevenlabs"}})
        if heads:
            nodes.append({"id": f"h{i}", "title": f"Head {i}", "type": "generate-talking-head",
                          "inputs": {"audio": f"v{i}"},
                          "config": {"provider": "heygen", "avatarId": "bench"}})
    return {"title": "provider bench", "nodes": nodes}


def bench_job() -> Any:
    """The asset job over the database in DATABASE_URL (reconstructed in each step process)."""
    from dagster import Definitions, define_asset_job

    from video_dagster.assets.translator import build_node_assets
    from video_dagster.db.engine import get_engine
    from video_dagster.db.snapshot import read_graph_snapshot
    from video_dagster.definitions import build_resources

    graph = read_graph_snapshot(get_engine(os.environ["DATABASE_URL"]))
    defs = Definitions(assets=build_node_assets(graph), resources=build_resources(),
                       jobs=[define_asset_job("provider_bench")])
    return defs.resolve_job_def("provider_bench")


def _import(url: str, doc: dict[str, Any]) -> tuple[str, list[Any]]:
    from video_dagster.db import editing, transfer
    from video_dagster.db.engine import get_engine

    with get_engine(url).begin() as conn:
        pid = transfer.import_pipeline(conn, doc)
        return pid, editing.list_nodes(conn, pid)


def _step_walls(instance: Any, run_id: str) -> dict[str, float]:
    """Step key → seconds from STEP_START to STEP_SUCCESS."""
    starts: dict[str, float] = {}
    walls: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            walls[event.step_key] = entry.timestamp - starts[event.step_key]
    return walls


def overhead(url: str, emus: Any, pairs: int) -> dict[str, tuple[float, float]]:
    """Per provider node type: median (node wall - emulator work) and median node wall."""
    from dagster import AssetKey, DagsterInstance

    from video_dagster.db import editing
    from video_dagster.db.engine import get_engine
    from video_dagster.domain.keys import asset_key_path, step_name

    pid, nodes = _import(url, _doc(pairs, heads=True))
    keys = [AssetKey(asset_key_path(pid, n.id, n.type)) for n in nodes]
    with DagsterInstance.ephemeral() as instance:
        result = bench_job().execute_in_process(asset_selection=keys, instance=instance,
                                                 raise_on_error=True)
        walls = _step_walls(instance, result.run_id)
    with get_engine(url).connect() as conn:
        done = editing.list_nodes(conn, pid)
    per: dict[str, list[float]] = {"generate-voiceover": [], "generate-talking-head": []}
    wall_of: dict[str, list[float]] = {t: [] for t in per}
    for node in done:
        if node.type not in per:
            continue
        wall = walls[step_name(node.id, node.type)]
        if node.type == "generate-voiceover":
            work = sum(emus.elevenlabs.work_by[r] for r in node.metadata["request_ids"])
        else:
            work = emus.heygen.work_by[node.metadata["job_id"]]
        per[node.type].append(wall - work)
        wall_of[node.type].append(wall)
    return {t: (statistics.median(v), statistics.median(wall_of[t])) for t, v in per.items()}


def direct(emus: Any, pairs: int, folder: Path) -> dict[str, float]:
    """Median wall time of the same provider calls made directly with the clients."""
    from video_dagster.resources.providers.resource import ProvidersResource

    providers = ProvidersResource(
        elevenlabs_api_key="emulator-key", elevenlabs_base_url=emus.elevenlabs_url,
        heygen_api_key="emulator-key", heygen_base_url=emus.heygen_url,
        heygen_poll_interval=0.1, heygen_poll_max_interval=0.5).get_providers()
    voice, head = [], []
    for i in range(pairs):
        started = time.perf_counter()
        speech = providers.elevenlabs.speak("21m00Tcm4TlvDq8ikWAM", {
            "text": f"{SCRIPT} Part {i}.", "model_id": "eleven_multilingual_v2"},
            "mp3_44100_128", folder / f"d{i}.mp3")
        voice.append(time.perf_counter() - started)
        started = time.perf_counter()
        asset = providers.heygen.upload_asset(speech.path, f"bench-a{i}")
        video = providers.heygen.create_video({"type": "avatar", "avatar_id": "bench",
                                               "audio_asset_id": asset, "resolution": "720p",
                                               "aspect_ratio": "16:9"}, f"bench-v{i}")
        delay = 0.1
        while (status := providers.heygen.get_video(video)).state not in ("succeeded",
                                                                          "failed"):
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        providers.heygen.download(status, folder / f"d{i}.mp4")
        head.append(time.perf_counter() - started)
    return {"generate-voiceover": statistics.median(voice),
            "generate-talking-head": statistics.median(head)}


@contextlib.contextmanager
def _empty_database(server: str) -> Iterator[str]:
    """A fresh empty database for Dagster's own storage (never the video tables)."""
    import sqlalchemy as sa

    admin = sa.create_engine(on_database(server, "postgres"), isolation_level="AUTOCOMMIT")
    name = f"vd_bench_dagster_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield on_database(server, name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def concurrency(server: str, url: str, emus: Any, queued: int, cap: int) -> tuple[int, bool]:
    """Most simultaneous ElevenLabs requests with `queued` voiceovers under a pool cap."""
    from dagster import AssetKey, DagsterInstance, execute_job, reconstructable

    from video_dagster import settings
    from video_dagster.domain.keys import asset_key_path

    pid, nodes = _import(url, _doc(queued, heads=False))
    keys = [AssetKey(asset_key_path(pid, n.id, n.type)) for n in nodes]
    emus.elevenlabs.max_in_flight = 0
    # Provider latency, so that requests admitted together overlap at the provider.
    emus.elevenlabs.latency = LATENCY
    with _empty_database(server) as dagster_db, tempfile.TemporaryDirectory() as home:
        overrides = {
            "storage": {"postgres": {"postgres_url": settings.psycopg2_url(dagster_db)}},
            "concurrency": {"pools": {"default_limit": cap, "granularity": "op"}},
        }
        with DagsterInstance.local_temp(home, overrides=overrides) as instance:
            result = execute_job(
                reconstructable(bench_job), instance, asset_selection=keys,
                run_config={"execution": {"config": {"multiprocess": {
                    "max_concurrent": cap * 3}}}})
            ok = result.success
    return emus.elevenlabs.max_in_flight, ok


def main() -> int:
    """Run both measurements and print them against their targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    pairs, queued, cap = (2, 6, 2) if args.quick else (10, 20, 3)

    from video_dagster.emulators import server as emulators

    with server_url() as (server, where), scratch_database(server) as url, \
            emulators.running("emulator-key") as emus, \
            tempfile.TemporaryDirectory(prefix="vd-bench-") as tmp:
        # Base URLs without keys: the project treats them as emulators (fast poll policy).
        os.environ.update({"DATABASE_URL": url, "VIDEO_DAGSTER_HOME": tmp,
                           "ELEVENLABS_BASE_URL": emus.elevenlabs_url,
                           "HEYGEN_BASE_URL": emus.heygen_url})
        for name in ("ELEVENLABS_API_KEY", "HEYGEN_API_KEY"):
            os.environ.pop(name, None)
        print(f"database: {where}; emulators on {emus.elevenlabs_url}, {emus.heygen_url}")
        base = direct(emus, pairs, Path(tmp))
        over = overhead(url, emus, pairs)
        worst = max(v[0] for v in over.values())
        for node_type, (value, wall) in over.items():
            print(f"{node_type}: orchestration overhead median {value:.3f}s per node; node wall "
                  f"median {wall:.3f}s vs direct client calls {base[node_type]:.3f}s "
                  f"(ratio {wall / base[node_type]:.2f})")
        verdict = "met" if worst <= TARGET_OVERHEAD else "MISSED"
        print(f"overhead target <= {TARGET_OVERHEAD}s per node: {verdict}")
        peak, ok = concurrency(server, url, emus, queued, cap)
        print(f"{queued} voiceovers queued, pool video_elevenlabs capped at {cap}: peak "
              f"{peak} concurrent requests at the provider, all completed: {ok} "
              f"({'held at the cap' if peak == cap and ok else 'NOT at the cap'})")
    return 0 if worst <= TARGET_OVERHEAD and ok and peak == cap else 1


if __name__ == "__main__":
    sys.exit(main())
