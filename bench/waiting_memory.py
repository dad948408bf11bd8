"""Memory per in-flight node: what the processes waiting on long jobs cost, shared pages once.

    python bench/waiting_memory.py             # 20 nodes waiting at once in one run
    python bench/waiting_memory.py --waits 4   # smaller (smoke test)

Starts `video-dagster dev` (like bench/reaction.py) with the AWS Lambda invoker pointed at a stub
`Invoke` endpoint on loopback that accepts every event and never calls back, so every merge node
waits in its asset body exactly as a node waiting minutes for a provider job does. One pipeline:
two asset clips and N merges reading them, which the ready sensor requests as one run.

Once all N wait, it reads the processes of that run — the run worker (pids of the run's events),
the forkserver and the step processes forked from it — and reports their PSS (proportional set
size: a page shared by k processes counts 1/k, so shared pages are counted once overall) and USS
(pages only that process has). The baseline, measured in the same run, is one freshly spawned
interpreter that imports what a step imports: what a step would cost without the forkserver.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench._pg import on_database, scratch_database, server_url  # noqa: E402
from bench.reaction import drop_dagster_database, start_dev  # noqa: E402
from tests.e2e._live import DevProcess, StubLambdaEndpoint, wait_for  # noqa: E402
from video_dagster.db import engine as db_engine  # noqa: E402
from video_dagster.db import transfer  # noqa: E402

TARGET_MB = 100.0
MB = 1024 * 1024
WAITING = sa.text(
    """
    SELECT count(*) FILTER (WHERE type = 'merge-videos' AND status = 'in_progress'
                            AND metadata ->> 'stage' = 'submitted') AS waiting,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           max(metadata ->> 'dagster_run_id') FILTER (WHERE type = 'merge-videos') AS run_id
    FROM video_production_nodes WHERE pipeline_id = CAST(:pid AS uuid)
    """
)
EVENT_PIDS = """
query($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on LogsCapturedEvent { pid }
                                       ... on EngineEvent { message } } }
  }
}
"""
STEP_IMPORTS = ("import dagster, video_dagster.assets.execute, video_dagster.assets.translator, "
                "video_dagster.resources.lambda_invoker, video_dagster.resources.object_store; "
                "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.read()")


def doc(waits: int, keys: list[str]) -> dict[str, Any]:
    """Two clips and `waits` merge nodes reading both."""
    nodes: list[dict[str, Any]] = [
        {"id": f"clip_{i}", "title": f"Clip {i}", "type": "asset",
         "asset": {"type": "video", "s3Key": key}} for i, key in enumerate(keys)]
    nodes += [{"id": f"merge_{i}", "title": f"Merge {i}", "type": "merge-videos",
               "inputs": {"segments": ["clip_0", "clip_1"]}, "config": {"provider": "ffmpeg"}}
              for i in range(waits)]
    return {"title": f"{waits} waiting merges", "nodes": nodes}


def memory(proc: psutil.Process) -> tuple[float, float, float]:
    """(RSS, PSS, USS) in MB."""
    info = proc.memory_full_info()
    return info.rss / MB, info.pss / MB, info.uss / MB


def spawned_baseline() -> tuple[float, float, float]:
    """Memory of one spawned interpreter that imported what a step process imports."""
    proc = subprocess.Popen([sys.executable, "-c", STEP_IMPORTS], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return memory(psutil.Process(proc.pid))
    finally:
        proc.kill()
        proc.wait()


def run_processes(dev: DevProcess, run_id: str) -> dict[str, list[psutil.Process]]:
    """The run worker, its forkserver and its step processes, by role."""
    events = dev.graphql(EVENT_PIDS, {"runId": run_id})["logsForRun"].get("events", [])
    step_pids = {e["pid"] for e in events if e.get("pid")}
    tree = {p.pid: p for p in dev.tree()}
    steps = [tree[pid] for pid in step_pids if pid in tree]
    parents = {p.ppid() for p in steps}
    forkservers = [tree[pid] for pid in parents if pid in tree]
    workers = [tree[pid] for pid in {p.ppid() for p in forkservers} if pid in tree]
    return {"run worker": workers, "forkserver": forkservers, "step": steps}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (exit 0 once it measured: the figures are read by people)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=20)
    args = parser.parse_args(argv)
    from dagster import DagsterInstance

    from video_dagster import settings
    from video_dagster.resources.object_store import LocalObjectStore

    root = Path(tempfile.mkdtemp(prefix="vd-waitmem-"))
    dev: DevProcess | None = None
    with server_url() as (server, where), scratch_database(server) as video_url, \
            StubLambdaEndpoint() as stub:
        try:
            print(f"database: {where}; {args.waits} waiting nodes", flush=True)
            store = LocalObjectStore(root / "home" / "objects", "video-dagster")
            keys = [f"library/bench/clip_{i}.mp4" for i in range(2)]
            for key in keys:
                store.put_bytes(key, b"never decoded: the Lambda stub runs nothing", "video/mp4")
            extra = {"VIDEO_LAMBDA_MODE": "aws", "AWS_ENDPOINT_URL_LAMBDA": stub.url,
                     "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                     "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                     "AWS_CONFIG_FILE": str(root / "none"),
                     "AWS_SHARED_CREDENTIALS_FILE": str(root / "none"),
                     "AWS_EC2_METADATA_DISABLED": "true"}
            dev = start_dev(server, video_url, root, None, extra_env=extra)
            engine = db_engine.get_engine(video_url)

            def context() -> str:
                return f"--- dev log (tail) ---\n{dev.tail(40)}" if dev else ""

            wait_for("the webserver", lambda: dev.graphql("{ __typename }", timeout=5), 300,
                     context)
            # Every merge of the run may wait at once: lift the ffmpeg pool's default limit.
            os.environ["DAGSTER_HOME"] = str(root / "dagster")
            os.environ["DAGSTER_PG_URL"] = settings.psycopg2_url(
                on_database(server, f"{video_url.rsplit('/', 1)[1]}_dagster"))
            with DagsterInstance.get() as instance:
                instance.event_log_storage.set_concurrency_slots("video_ffmpeg", args.waits)
            with engine.begin() as conn:
                pid = transfer.import_pipeline(conn, doc(args.waits, keys))

            def all_waiting() -> Any:
                dev.check_alive()
                with engine.connect() as conn:
                    row = conn.execute(WAITING, {"pid": pid}).one()
                if row.failed:
                    raise AssertionError(f"a node failed\n{context()}")
                return row if row.waiting == args.waits else None

            row = wait_for(f"{args.waits} merge nodes to wait", all_waiting, 600, context)
            time.sleep(3)  # let the waiting loops settle into their polling
            roles = run_processes(dev, row.run_id)
            totals = {"rss": 0.0, "pss": 0.0}
            for role, procs in roles.items():
                figures = [memory(p) for p in procs]
                if not figures:
                    print(f"{role}: none found")
                    continue
                rss, pss, uss = (sum(f[i] for f in figures) for i in range(3))
                totals["rss"] += rss
                totals["pss"] += pss
                print(f"{role}: {len(procs)} process(es), PSS {pss:.0f} MB, USS {uss:.0f} MB, "
                      f"RSS {rss:.0f} MB (each: PSS {pss / len(procs):.0f} MB, USS "
                      f"{uss / len(procs):.0f} MB)")
            per_node = totals["pss"] / args.waits
            base_rss, base_pss, base_uss = spawned_baseline()
            steps = roles["step"]
            step_pss = sum(memory(p)[1] for p in steps) / max(1, len(steps))
            print(f"baseline, one spawned step interpreter: PSS {base_pss:.0f} MB, "
                  f"USS {base_uss:.0f} MB, RSS {base_rss:.0f} MB")
            print(f"forked step / spawned step PSS ratio {step_pss / base_pss:.2f}")
            print(f"per waiting node: {per_node:.0f} MB PSS (run worker + forkserver + steps) / "
                  f"{args.waits}; RSS summed would say {totals['rss'] / args.waits:.0f} MB "
                  f"(target <= {TARGET_MB:.0f} MB) "
                  f"{'OK' if per_node <= TARGET_MB else 'OVER TARGET'}")
        finally:
            if dev is not None:
                dev.stop()
            drop_dagster_database(server, video_url)
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
