"""`bench/lifecycle.py --scaling`: transitions in one pipeline of 10/100/1k/5k nodes (issue 12.2).

Two figures per size: the 8-worker rate of (a) (started -> updated -> succeeded) over the nodes
of ONE pipeline, as a ratio of the 10-node rate (measured before and after, mean), and the
server CPU per transition of one connection, read from its backend's /proc entry when the server
runs on this machine — it does not move with the machine's other load.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench import lifecycle as lb
from bench._pg import scratch_database
from video_dagster import settings
from video_dagster.db import engine as db_engine
from video_dagster.db.lifecycle import Lifecycle

SCALING_SIZES, SCALING_TARGET = (10, 100, 1000, 5000), 0.8
CPU_CYCLES = 200


def _backend_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_per_transition(url: str, nodes: list[str]) -> float | None:
    """Server CPU seconds per transition on one connection (None if its backend is remote)."""
    engine = sa.create_engine(settings.sqlalchemy_url(url), pool_size=1, max_overflow=0)
    try:
        lc, calls = Lifecycle(engine), 0
        # Transitions run on the lifecycle's autocommit pool: emptied, then used by this one
        # thread, it holds a single connection, the one whose backend is read.
        lc.autocommit_engine.dispose()
        with lc.autocommit_engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        # The rate phases stop mid-cycle: a node left in progress would make every start on it
        # stale (cheap), which skews the comparison towards whichever pipeline has more of them.
        for node in nodes:
            lb.end_execution(engine, node)
        for i in range(2 * CPU_CYCLES):  # the first half warms the backend (plans, caches)
            if i == CPU_CYCLES:
                before, calls = _backend_cpu(pid), 0
                if before is None:
                    return None
            node = nodes[i % len(nodes)]
            process = getattr(lc.started(node), "process_uuid", "")
            lc.updated(node, {"stage": "rendering"}, process)
            lc.succeeded(node, {"type": "text"}, process, cost=0.01)
            calls += 3
        after = _backend_cpu(pid)
        return None if after is None else (after - before) / calls
    finally:
        engine.dispose()


def _has_recount(conn: sa.Connection) -> bool:
    """Whether the schema has the recount function (it lets this run on older revisions)."""
    return bool(conn.execute(sa.text(
        "SELECT count(*) FROM pg_proc WHERE proname = 'video_progress_recount'")).scalar())


def scaling(server: str, workers: int, seconds: float, kind: str) -> None:
    """(a) inside one pipeline per size; ratios against the 10-node pipeline."""
    with scratch_database(server) as url:
        engine = db_engine.get_engine(url)
        by_size: dict[int, list[str]] = {}
        with engine.begin() as conn:
            for size in SCALING_SIZES:
                pid = str(uuid.uuid4())
                conn.execute(sa.text("INSERT INTO video_production_pipelines (id, title) "
                                     "VALUES (:pid, 'scaling')"), {"pid": pid})
                by_size[size] = conn.execute(sa.text(
                    "INSERT INTO video_production_nodes (pipeline_id, title, type, asset, "
                    "is_valid) SELECT :pid, 'node ' || g, 'asset', '{\"content\": \"x\"}', "
                    "true FROM generate_series(1, :n) g RETURNING id::text"),
                    {"pid": pid, "n": size}).scalars().all()
                conn.execute(sa.text("SELECT video_progress_recount(CAST(:pid AS uuid))")
                             if _has_recount(conn) else sa.text("SELECT 1"), {"pid": pid})
        rates: dict[int, list[float]] = {size: [] for size in SCALING_SIZES}
        for size in (*SCALING_SIZES, SCALING_SIZES[0]):  # the baseline before and after
            lb.vacuum(url)
            nodes = by_size[size]
            shares = [nodes[w::workers] for w in range(min(workers, len(nodes)))]
            rate, _, cpu = lb.run_phase(url, "spread", shares, seconds, kind)
            rates[size].append(rate)
            print(f"[{kind}] scaling: one pipeline of {size} nodes: {rate:.1f} transitions/s; "
                  f"{cpu}")
        base = sum(rates[SCALING_SIZES[0]]) / 2
        print(f"[{kind}] scaling ratios to the {SCALING_SIZES[0]}-node pipeline (mean of "
              f"{' and '.join(f'{r:.1f}' for r in rates[SCALING_SIZES[0]])}): " + ", ".join(
                  f"{size} nodes {rates[size][0] / base:.2f}" for size in SCALING_SIZES[1:]))
        ratio = rates[SCALING_SIZES[-1]][0] / base
        print(f"[{kind}] scaling ratio {SCALING_SIZES[-1]}/{SCALING_SIZES[0]} nodes {ratio:.2f} "
              f"(target >= {SCALING_TARGET}) {'OK' if ratio >= SCALING_TARGET else 'BELOW TARGET'}")
        # The same 10 nodes' worth of rows in both pipelines, alternated twice: only the
        # pipeline's size differs (which is what an O(n) recount per transition would show).
        lb.vacuum(url)
        cpu: dict[int, float] = {SCALING_SIZES[0]: 0.0, SCALING_SIZES[-1]: 0.0}
        for size in (*cpu, *cpu):
            spent = server_cpu_per_transition(url, by_size[size][:SCALING_SIZES[0]])
            if spent is None:
                return
            cpu[size] += spent / 2
        small, large = cpu.values()
        print(f"[{kind}] server CPU per transition, one connection, 10 nodes of each: "
              f"{small * 1e6:.0f} us in the {SCALING_SIZES[0]}-node pipeline, "
              f"{large * 1e6:.0f} us in the {SCALING_SIZES[-1]}-node one "
              f"(ratio {small / large:.2f})")
