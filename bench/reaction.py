"""Reaction benchmark: from a pipeline written to the database to its nodes running and done.

    python bench/reaction.py              # 4-node merge and 21-node pipelines, 3 trials each
    python bench/reaction.py --quick      # one trial of the 4-node pipeline (smoke test)
    python bench/reaction.py --repo DIR   # drive another checkout (a baseline)

Starts `video-dagster dev` on a free port (its own Dagster storage, a scratch video database,
local Lambda mode, a local object store), lets a warm-up pipeline run, then writes each pipeline
the way the editor does (one transaction of INSERTs) and reads the audit events the asset bodies
write. Per pipeline, medians of the trials:

- reaction: write committed -> first node `started` (in_progress);
- total: write committed -> last node `succeeded`;
- per node: total / nodes;
- work: the node bodies' own time on the critical path (started -> succeeded of each node, the
  merge plus its slowest input), the baseline measured in the same run; overhead = total / work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

import sqlalchemy as sa  # noqa: E402

from bench._pg import on_database, scratch_database, server_url  # noqa: E402
from tests.e2e._live import DevProcess, free_port, wait_for  # noqa: E402
from video_dagster import settings  # noqa: E402
from video_dagster.db import engine as db_engine  # noqa: E402
from video_dagster.db import transfer  # noqa: E402

TARGETS = {"reaction": 5.0, "merge total": 12.0, "per node": 0.5}
TIMEOUT = 300.0
RUNS = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) { ... on Runs { results { creationTime startTime } } }
}
"""
TIMES = sa.text(
    """
    SELECT n.id::text AS id, n.type, n.status,
           (SELECT min(e.created_at) FROM video_production_node_events e
             WHERE e.node_id = n.id AND e.event = 'started' AND e.applied) AS started,
           (SELECT max(e.created_at) FROM video_production_node_events e
             WHERE e.node_id = n.id AND e.event = 'succeeded' AND e.applied) AS succeeded,
           n.created_at AS written
    FROM video_production_nodes n WHERE n.pipeline_id = CAST(:pid AS uuid)
    """
)


def clips(count: int, keys: dict[str, str]) -> list[dict[str, Any]]:
    """`count` asset nodes reading the stored clips in turn."""
    names = sorted(keys)
    return [{"id": f"clip_{i}", "title": f"Clip {i}", "type": "asset",
             "asset": {"type": "video", "s3Key": keys[names[i % len(names)]]}}
            for i in range(count)]


def merge_doc(title: str, sources: int, keys: dict[str, str]) -> dict[str, Any]:
    """`sources` asset nodes and one merge-videos node reading them all."""
    nodes = clips(sources, keys)
    nodes.append({"id": "merged", "title": "Merged", "type": "merge-videos",
                  "inputs": {"segments": [n["id"] for n in nodes]},
                  "config": {"provider": "ffmpeg"}})
    return {"title": title, "nodes": nodes}


class Bench:
    """One `video-dagster dev` and the video database it serves."""

    def __init__(self, dev: DevProcess, engine: sa.Engine) -> None:
        self.dev, self.engine = dev, engine

    def context(self) -> str:
        return f"--- dev log {self.dev.log_path} (tail) ---\n{self.dev.tail(40)}"

    def run(self, doc: dict[str, Any]) -> dict[str, float]:
        """Write one pipeline, wait for every node to finish, return its figures in seconds."""
        with self.engine.begin() as conn:
            pid = transfer.import_pipeline(conn, doc)

        def finished() -> list[Any] | None:
            self.dev.check_alive()
            with self.engine.connect() as conn:
                rows = conn.execute(TIMES, {"pid": pid}).all()
            if any(r.status == "failed" for r in rows):
                raise AssertionError(f"a node failed: {[tuple(r) for r in rows]}\n"
                                     f"{self.context()}")
            return rows if all(r.status == "completed" for r in rows) else None

        rows = wait_for(f"pipeline {doc['title']!r} to complete", finished, TIMEOUT,
                        self.context, interval=0.2)
        written = min(r.written for r in rows)  # the import transaction's start (now())
        started = min(r.started for r in rows)
        done = max(r.succeeded for r in rows)
        merge = [r for r in rows if r.type == "merge-videos"]
        sources = [r for r in rows if r.type != "merge-videos"]
        work = max((r.succeeded - r.started).total_seconds() for r in sources)
        work += sum((r.succeeded - r.started).total_seconds() for r in merge)
        total = (done - written).total_seconds()
        # Where the reaction goes: until the sensor requested the run (reload, validation, tick),
        # until the run worker started it, until the first node's body started.
        runs = self.dev.graphql(RUNS, {"filter": {"tags": [
            {"key": "video/pipeline_id", "value": pid}]}})["runsOrError"]["results"]
        first = min(runs, key=lambda r: r["creationTime"])
        t0 = written.timestamp()
        return {"reaction": (started - written).total_seconds(), "total": total,
                "per node": total / len(rows), "work": work,
                "to request": first["creationTime"] - t0,
                "to run start": (first["startTime"] or first["creationTime"]) - t0}


def start_dev(server: str, video_url: str, root: Path, repo: Path | None,
              extra_env: dict[str, str] | None = None) -> DevProcess:
    """`video-dagster dev` with its own Dagster database, home and object store."""
    dagster_db = f"{video_url.rsplit('/', 1)[1]}_dagster"
    admin = sa.create_engine(on_database(server, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{dagster_db}"'))
    admin.dispose()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "VIDEO_", "DAGSTER_"))
           and k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.update({
        "DATABASE_URL": video_url,
        "DAGSTER_PG_URL": settings.psycopg2_url(on_database(server, dagster_db)),
        "DAGSTER_HOME": str(root / "dagster"),
        "VIDEO_DAGSTER_HOME": str(root / "home"),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    })
    port = free_port()
    # Explicit, so that a baseline checkout from before `dev` set it reloads at all.
    env["DAGSTER_GRAPHQL_URL"] = f"http://127.0.0.1:{port}/graphql"
    (root / "dagster").mkdir()
    cmd = None
    if repo is not None:
        # Another checkout's code with this interpreter: its modules first on the path.
        env["PYTHONPATH"] = str(repo)
        cmd = [sys.executable, "-m", "video_dagster.cli"]
    return DevProcess.start(port, env, root / "dev.log", command=cmd, cwd=repo)


def drop_dagster_database(server: str, video_url: str) -> None:
    admin = sa.create_engine(on_database(server, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(
            f'DROP DATABASE IF EXISTS "{video_url.rsplit("/", 1)[1]}_dagster" WITH (FORCE)'))
    admin.dispose()


def report(name: str, trials: list[dict[str, float]]) -> dict[str, float]:
    """Print the medians of one pipeline's trials and return them."""
    med = {k: statistics.median(t[k] for t in trials) for k in trials[0]}
    print(f"{name}: reaction {med['reaction']:.1f}s, total {med['total']:.1f}s, "
          f"per node {med['per node']:.2f}s, work {med['work']:.1f}s, overhead "
          f"total/work {med['total'] / med['work']:.1f}x; run requested after "
          f"{med['to request']:.1f}s, started after {med['to run start']:.1f}s "
          f"(median of {len(trials)}; runs: "
          + ", ".join(f"{t['reaction']:.1f}/{t['total']:.1f}s" for t in trials) + ")",
          flush=True)
    return med


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always exits 0 when it could measure (people read the numbers)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one trial of the 4-node pipeline")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--repo", type=Path, help="checkout whose `video-dagster dev` to drive")
    args = parser.parse_args(argv)
    trials = 1 if args.quick else args.trials
    from video_dagster.cli.demo import make_clips
    from video_dagster.resources.object_store import LocalObjectStore

    root = Path(tempfile.mkdtemp(prefix="vd-reaction-"))
    dev: DevProcess | None = None
    with server_url() as (server, where), scratch_database(server) as video_url:
        try:
            print(f"database: {where}; code: {args.repo or ROOT}", flush=True)
            store = LocalObjectStore(root / "home" / "objects", "video-dagster")
            keys = {}
            for key, path in make_clips(root, seconds=1.0).items():
                if "clip_c" not in key:  # same size and streams: a stream-compatible merge
                    store.put_file(key, path, content_type="video/mp4")
                    keys[key] = key
            dev = start_dev(server, video_url, root, args.repo)
            bench = Bench(dev, db_engine.get_engine(video_url))
            started = time.monotonic()
            wait_for("the webserver", lambda: dev.graphql("{ __typename }", timeout=5),
                     TIMEOUT, bench.context)
            bench.run({"title": "Warm-up", "nodes": clips(1, keys)})
            print(f"dev up and warm after {time.monotonic() - started:.0f}s", flush=True)
            shapes = [("4-node merge", 3)] if args.quick else [("4-node merge", 3),
                                                               ("21-node", 20)]
            results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in shapes}
            for trial in range(trials):
                for name, sources in shapes:
                    results[name].append(bench.run(merge_doc(f"{name} #{trial}", sources, keys)))
            medians = {name: report(name, values) for name, values in results.items()}
            merge = medians["4-node merge"]
            checks = [("reaction", merge["reaction"], TARGETS["reaction"]),
                      ("merge total", merge["total"], TARGETS["merge total"])]
            if "21-node" in medians:
                checks.append(("per node", medians["21-node"]["per node"], TARGETS["per node"]))
            for label, value, target in checks:
                print(f"target {label}: {value:.2f}s (<= {target}s) "
                      f"{'OK' if value <= target else 'OVER TARGET'}")
            print(json.dumps({"medians": medians}))
        finally:
            if dev is not None:
                dev.stop()
            drop_dagster_database(server, video_url)
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
