"""Lifecycle transitions per second against a raw single-row UPDATE baseline (DESIGN §5).

    python bench/lifecycle.py                  # 5 s per phase, threads then processes
    python bench/lifecycle.py --quick          # 1 s per phase (smoke test)
    python bench/lifecycle.py --kind threads --seconds 10 --profile
    python bench/lifecycle.py --scaling        # (a) inside one pipeline of 10/100/1k/5k nodes

Server: DATABASE_URL, else TEST_DATABASE_URL, else an own pgserver in a temp dir. A fresh
database is created, migrated and dropped at the end. 8 workers, each with its own connection:
- raw: autocommit `UPDATE ... SET metadata = metadata || '{"x":1}'` over the workers' nodes;
- (a) spread: 50 pipelines x 20 nodes, pipelines dealt out to workers (disjoint node sets, no
  shared pipeline row); each worker cycles started -> updated -> succeeded over its nodes;
- (b) one node: every worker fires started/updated/succeeded/failed at the same node, mostly
  stale. Every call counts as a transition attempt; applied ones are reported beside.
--scaling: (a) over the nodes of ONE pipeline of 10, 100, 1,000 and 5,000 nodes (every worker
  shares its pipeline row), each size's rate printed as a ratio of the 10-node rate.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing as mp
import os
import pstats
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

import sqlalchemy as sa  # noqa: E402

from bench._pg import scratch_database, server_url  # noqa: E402
from video_dagster.db import engine as db_engine  # noqa: E402
from video_dagster.db.lifecycle import Lifecycle  # noqa: E402

TARGET = 0.5
OPS = ("started", "updated", "succeeded", "failed")
PIPELINES, NODES_PER_PIPELINE = 50, 20
IO_FUNCTIONS = {"wait", "_send_query_prepared", "_exec_command", "_execute_send", "wait_conn"}
RAW = sa.text(  # `: 1`, not `:1`, so that text() does not read a bind parameter
    "UPDATE video_production_nodes SET metadata = metadata || '{\"x\": 1}' WHERE id = :id")

SEED = (
    "INSERT INTO video_production_pipelines (title) SELECT 'bench ' || g "
    "FROM generate_series(1, :p) g",
    "INSERT INTO video_production_nodes (pipeline_id, title, type, asset, is_valid) "
    "SELECT p.id, 'node ' || g, 'asset', '{\"content\": \"x\"}', true "
    "FROM video_production_pipelines p, generate_series(1, :n) g",
)


# ---- phases: each runs in one worker until its deadline and returns (calls, applied) ---------


def phase_raw(engine: sa.Engine, nodes: list[str], deadline: float, _: int) -> tuple[int, int]:
    """The baseline: one autocommit single-row UPDATE per call on a held connection."""
    calls = 0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.perf_counter() < deadline:
            conn.execute(RAW, {"id": nodes[calls % len(nodes)]})
            calls += 1
    return calls, calls


def phase_spread(engine: sa.Engine, nodes: list[str], deadline: float, _: int) -> tuple[int, int]:
    """(a): started -> updated -> succeeded on each of this worker's own nodes in turn."""
    lc, calls, applied, i = Lifecycle(engine), 0, 0, 0
    while time.perf_counter() < deadline:
        node = nodes[i % len(nodes)]
        i += 1
        res = lc.started(node)
        calls, applied, process = calls + 1, applied + res.applied, getattr(res, "process_uuid", "")
        if res.applied and time.perf_counter() < deadline:
            res = lc.updated(node, {"stage": "rendering", "job_id": f"j{i}"}, process)
            calls, applied = calls + 1, applied + res.applied
        if res.applied and time.perf_counter() < deadline:
            res = lc.succeeded(node, {"type": "text", "s3Key": f"k{i}"}, process, cost=0.01)
            calls, applied = calls + 1, applied + res.applied
    return calls, applied


def end_execution(engine: sa.Engine, node: str) -> None:
    """Fail a leftover execution (as the reaper would) so a phase starts from a settled node."""
    with engine.connect() as conn:
        process = conn.execute(sa.text("SELECT process_uuid::text FROM video_production_nodes "
                                       "WHERE id = :id AND status = 'in_progress'"),
                               {"id": node}).scalar()
    if process:
        Lifecycle(engine).failed(node, "reaped between benchmark phases", process)


def phase_one_node(engine: sa.Engine, nodes: list[str], deadline: float, seed: int
                   ) -> tuple[int, int]:
    """(b): random transitions on one shared node with this worker's own process id (if it ever
    started one, 80%) or a random one; other workers' starts make most of them stale."""
    lc, rng, mine = Lifecycle(engine), random.Random(seed), None
    calls = applied = 0
    node = nodes[0]
    while time.perf_counter() < deadline:
        op = rng.choice(OPS if mine else ("started", "started", "failed"))
        process = mine if rng.random() < 0.8 else str(uuid.uuid4())
        if op == "started":
            res = lc.started(node)
            mine = res.process_uuid if res.applied else mine
        elif op == "updated":
            res = lc.updated(node, {"stage": "rendering"}, process or str(uuid.uuid4()))
        elif op == "succeeded":
            res = lc.succeeded(node, {"type": "text"}, process or str(uuid.uuid4()), cost=0.01)
        else:
            res = lc.failed(node, "boom", process)
        calls, applied = calls + 1, applied + res.applied
    return calls, applied


PHASES: dict[str, Callable[[sa.Engine, list[str], float, int], tuple[int, int]]] = {
    "raw": phase_raw, "spread": phase_spread, "one_node": phase_one_node,
}


# ---- running workers --------------------------------------------------------------------------


def _worker(url: str, phase: str, nodes: list[str], seconds: float, seed: int, barrier: Any
            ) -> tuple[int, int, float, float, float]:
    engine = db_engine.get_engine(url)
    with engine.connect() as conn:  # open the connection before the clock starts
        conn.execute(sa.text("SELECT 1"))
    barrier.wait(timeout=120)
    start, cpu, busy = time.perf_counter(), time.thread_time(), _machine_busy()
    calls, applied = PHASES[phase](engine, nodes, start + seconds, seed)
    return (calls, applied, time.perf_counter() - start, time.thread_time() - cpu,
            _machine_busy() - busy)


def _guarded(*args: Any) -> Any:
    """`_worker`, returning its exception instead of leaving the others at the barrier."""
    try:
        return _worker(*args)
    except BaseException as exc:
        args[-1].abort()
        return exc


def _process_main(queue: Any, *args: Any) -> None:
    queue.put(_guarded(*args))


def _machine_busy() -> float:
    """CPU seconds spent by the whole machine so far (every process, the server included)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_phase(url: str, phase: str, shares: list[list[str]], seconds: float, kind: str
              ) -> tuple[float, float, str]:
    """Run one phase with one worker per share; return (calls/s, applied/s, CPU per call)."""
    n = len(shares)
    if kind == "threads":
        barrier = threading.Barrier(n)
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(
                lambda w: _guarded(url, phase, shares[w], seconds, w, barrier), range(n)))
    else:
        ctx = mp.get_context("spawn")
        barrier, queue = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_process_main,
                             args=(queue, url, phase, shares[w], seconds, w, barrier))
                 for w in range(n)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=seconds + 300) for _ in procs]
        for p in procs:
            p.join()
    failures = [r for r in results if not isinstance(r, tuple)]
    if failures:
        raise RuntimeError(f"{phase} worker failed: {failures[0]!r}")
    elapsed, calls = max(r[2] for r in results), sum(r[0] for r in results)
    client, busy = sum(r[3] for r in results), results[0][4]  # the workers' own CPU; machine's
    cpu = (f"CPU per call: client {client / calls * 1e6:.0f} us, rest of machine (server + "
           f"other load) {(busy - client) / calls * 1e6:.0f} us")
    return calls / elapsed, sum(r[1] for r in results) / elapsed, cpu


# ---- database ---------------------------------------------------------------------------------


@contextmanager
def bench_database(server: str) -> Iterator[str]:
    """A scratch database seeded with the benchmark's pipelines."""
    with scratch_database(server) as url:
        with db_engine.get_engine(url).begin() as conn:
            for statement in SEED:
                conn.execute(sa.text(statement), {"p": PIPELINES, "n": NODES_PER_PIPELINE})
        yield url


def shares_of(url: str, workers: int) -> list[list[str]]:
    """Pipelines dealt out round-robin: disjoint node sets, no pipeline row shared."""
    with db_engine.get_engine(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT id::text, dense_rank() OVER (ORDER BY pipeline_id) "
                                    "FROM video_production_nodes ORDER BY pipeline_id, id")).all()
    return [[r[0] for r in rows if r[1] % workers == w] for w in range(workers)]


def vacuum(url: str) -> None:
    with db_engine.get_engine(url).connect().execution_options(
            isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


def profile_spread(url: str, nodes: list[str], seconds: float) -> None:
    """One worker running (a): round trips counted, then CPU split by layer under cProfile."""
    engine = db_engine.get_engine(url)
    trips: dict[str, int] = dict.fromkeys(("statement", "begin", "commit", "checkout"), 0)

    hooks = [(target, name, lambda *a, _k=kind, **k: trips.__setitem__(_k, trips[_k] + 1))
             for kind, target, name in (("statement", engine, "before_cursor_execute"),
                                        ("begin", engine, "begin"), ("commit", engine, "commit"),
                                        ("checkout", engine.pool, "checkout"))]
    for hook in hooks:
        sa.event.listen(*hook)
    start, cpu = time.perf_counter(), time.thread_time()
    calls, _ = phase_spread(engine, nodes, start + seconds, 0)
    wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
    for hook in hooks:
        sa.event.remove(*hook)
    per = {k: v / calls for k, v in trips.items()}
    print(f"profile (a), 1 worker: {calls / wall:.0f} transitions/s, {wall / calls * 1e6:.0f} us "
          f"wall of which {cpu / calls * 1e6:.0f} us client CPU per transition")
    print("round trips per transition: {statement:.2f} statements + {begin:.2f} BEGIN + "
          "{commit:.2f} COMMIT + {checkout:.2f} pool pre-ping = ".format(**per)
          + f"{sum(per.values()):.2f} (raw baseline: 1)")
    profiler = cProfile.Profile()
    calls, _ = profiler.runcall(phase_spread, engine, nodes, time.perf_counter() + seconds, 0)
    layers: dict[str, float] = {}
    for (file, _, fn), (_, _, tottime, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        layer = next((k for k in ("sqlalchemy", "psycopg", "video_dagster") if f"/{k}/" in file),
                     "other Python")
        if fn in IO_FUNCTIONS:  # C-level libpq calls: sending, and blocking until the reply
            layer = "libpq send/wait (incl. waiting for the server)"
        layers[layer] = layers.get(layer, 0.0) + tottime
    total = sum(layers.values())
    print("cProfile, share of one worker's time: " + ", ".join(
        f"{k} {v / total:.0%} ({v / calls * 1e6:.0f} us)"
        for k, v in sorted(layers.items(), key=lambda kv: -kv[1])))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="1 s per phase")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--kind", choices=("threads", "processes", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="cProfile one worker of (a)")
    parser.add_argument("--scaling", action="store_true", help="(a) in one pipeline by size")
    args = parser.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    kinds = ("threads", "processes") if args.kind == "both" else (args.kind,)
    if args.scaling:
        with server_url() as (server, where):
            print(f"server: {where}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
                  f"{args.workers} workers; {seconds:g} s per size")
            from bench._scaling import scaling

            for kind in kinds:
                scaling(server, args.workers, seconds, kind)
        return
    with server_url() as (server, where), bench_database(server) as url:
        with db_engine.get_engine(url).connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        print(f"server: {where}, PostgreSQL {version}; {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.1f}; "
              f"{args.workers} workers; {seconds:g} s per phase")
        shares = shares_of(url, args.workers)
        for kind in kinds:
            rates: dict[str, list[tuple[float, float, str]]] = {phase: [] for phase in PHASES}
            for phase in ("raw", "spread", "one_node", "raw"):  # raw twice: before and after
                vacuum(url)
                end_execution(db_engine.get_engine(url), shares[0][0])
                phase_shares = shares if phase != "one_node" else [shares[0][:1]] * args.workers
                rates[phase].append(run_phase(url, phase, phase_shares, seconds, kind))
            (raw1, _, raw_cpu), (raw2, _, _) = rates["raw"]
            (a, a_ok, a_cpu), (b, b_ok, b_cpu) = rates["spread"][0], rates["one_node"][0]
            raw = (raw1 + raw2) / 2
            print(f"[{kind}] raw UPDATE baseline: {raw:.1f} updates/s (mean of {raw1:.1f} "
                  f"before and {raw2:.1f} after); {raw_cpu}")
            print(f"[{kind}] (a) spread over {PIPELINES * NODES_PER_PIPELINE} nodes: {a:.1f} "
                  f"transitions/s ({a_ok:.1f} applied/s); {a_cpu}\n"
                  f"[{kind}] (b) one node, contended: {b:.1f} transitions/s "
                  f"({b_ok:.1f} applied/s, {b - b_ok:.1f} stale/s); {b_cpu}\n"
                  f"[{kind}] ratio (a)/raw {a / raw:.2f} (target >= {TARGET}) "
                  f"{'OK' if a / raw >= TARGET else 'BELOW TARGET'}\n"
                  f"[{kind}] ratio (b)/raw {b / raw:.2f}")
        if args.profile:
            vacuum(url)
            profile_spread(url, shares[0], seconds)


if __name__ == "__main__":
    main()
