"""Database time of each sensor query on 100,000 nodes, against a 100 ms per-query target.

    python bench/sensor_tick.py            # 100,000 nodes in pipelines of 20
    python bench/sensor_tick.py --quick    # 5,000 nodes (smoke test)

Server: DATABASE_URL or TEST_DATABASE_URL, else a private pgserver in a temp dir. The bench creates
its own database, migrates it, and drops it at the end, also when interrupted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from bench._pg import scratch_database, server_url  # noqa: E402
from video_dagster.db import engine as db_engine  # noqa: E402
from video_dagster.db.validation import PENDING_PIPELINES  # noqa: E402
from video_dagster.sensors import ready, reaper, run_failures  # noqa: E402

TARGET_MS = 100.0
PER_PIPELINE = 20

# Deterministic ids (md5 -> uuid) so that node k can reference node k-1 of its pipeline.
# Pipeline classes by p % 20: 0 active (10 done, 1 ready, rest waiting), 1 running (5 done, one
# in_progress, past its deadline when p % 40 = 1), 3 failed once or twice; p % 50 = 2 edited and
# not validated yet; everything else completed.
POPULATE = """
INSERT INTO video_production_pipelines (id, title)
SELECT md5('p' || p)::uuid, 'Bench pipeline ' || p FROM generate_series(0, :pipelines - 1) p;

INSERT INTO video_production_nodes
    (id, pipeline_id, title, type, inputs, config, asset, status, is_valid, structure_version,
     validated_version, process_uuid, run_structure_version, attempt, failures, deadline_at,
     metadata, output, updated_at)
SELECT md5('p' || p || 'n' || k)::uuid, md5('p' || p)::uuid, 'Node ' || k,
       CASE WHEN k = 0 THEN 'asset' ELSE 'generate-voiceover' END,
       CASE WHEN k = 0 THEN '{}'::jsonb
            WHEN k % 2 = 0 THEN jsonb_build_object('script',
                     md5('p' || p || 'n' || (k - 1))::uuid::text)
            ELSE jsonb_build_object('script', jsonb_build_array(
                     md5('p' || p || 'n' || (k - 1))::uuid::text)) END,
       CASE WHEN k = 0 THEN '{}'::jsonb ELSE '{"provider": "elevenlabs"}'::jsonb END,
       CASE WHEN k = 0 THEN '{"content": "hi"}'::jsonb END,
       s.status, p % 50 <> 2, 1, CASE WHEN p % 50 = 2 THEN 0 ELSE 1 END,
       CASE WHEN s.status IN ('in_progress', 'failed', 'completed') THEN gen_random_uuid() END,
       CASE WHEN s.status <> 'pending' THEN 1 END,
       CASE WHEN s.status = 'pending' THEN 0 ELSE 1 END,
       CASE WHEN s.status = 'failed' THEN 1 + (p / 20) % 2 ELSE 0 END,
       CASE WHEN s.status = 'in_progress' THEN
            now() + CASE WHEN p % 40 = 1 THEN interval '-10 minutes' ELSE interval '20 minutes'
            END END,
       CASE WHEN s.status = 'in_progress'
            THEN jsonb_build_object('dagster_run_id', 'run-' || p) ELSE '{}'::jsonb END,
       CASE WHEN s.status = 'completed' THEN '{"type": "text"}'::jsonb END,
       -- Quiet for an hour: what the orphan sweep looks for.
       CASE WHEN s.status = 'in_progress' THEN now() - interval '1 hour' ELSE now() END
FROM generate_series(0, :pipelines - 1) p
CROSS JOIN generate_series(0, :per_pipeline - 1) k
CROSS JOIN LATERAL (SELECT CASE
    WHEN p % 20 = 0 AND k >= 10 THEN 'pending'
    WHEN p % 20 = 1 AND k = 5 THEN 'in_progress'
    WHEN p % 20 = 1 AND k > 5 THEN 'pending'
    WHEN p % 20 = 3 AND k = 3 THEN 'failed'
    WHEN p % 20 = 3 AND k > 3 THEN 'pending'
    WHEN p % 50 = 2 THEN 'pending'
    ELSE 'completed' END AS status) s;

INSERT INTO video_production_revalidation_queue (pipeline_id)
SELECT md5('p' || p)::uuid FROM generate_series(0, :pipelines - 1, 500) p;
"""


def populate(engine: sa.Engine, nodes: int) -> dict[str, int]:
    """Load the synthetic pipelines in one transaction, then ANALYZE."""
    pipelines = max(nodes // PER_PIPELINE, 1)
    with engine.begin() as conn:
        # Bulk load with the bookkeeping columns as they would be after many ticks.
        conn.execute(sa.text("ALTER TABLE video_production_nodes DISABLE TRIGGER USER"))
        for statement in POPULATE.split(";\n"):
            if statement.strip():
                conn.execute(sa.text(statement),
                             {"pipelines": pipelines, "per_pipeline": PER_PIPELINE})
        conn.execute(sa.text("ALTER TABLE video_production_nodes ENABLE TRIGGER USER"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
        counts = conn.execute(sa.text(
            "SELECT count(*) AS nodes, count(*) FILTER (WHERE status = 'in_progress') AS running,"
            " count(*) FILTER (WHERE status = 'in_progress' AND deadline_at < now()) AS expired,"
            " count(*) FILTER (WHERE validated_version < structure_version) AS unvalidated,"
            " count(*) FILTER (WHERE status IN ('pending', 'failed') AND is_valid) AS candidates"
            " FROM video_production_nodes")).one()
    return {"pipelines": pipelines, **counts._asdict()}


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN JSON plan, depth first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def measure(engine: sa.Engine, query: sa.TextClause, params: dict[str, Any],
            repeats: int) -> tuple[float, float, list[str], list[str], bool, int]:
    """Median wall time (ms), median EXPLAIN ANALYZE execution time, plan shape, indexes used."""
    explain = sa.text("EXPLAIN (ANALYZE, FORMAT JSON) " + query.text)
    walls, execs = [], []
    rows = 0
    plan: dict[str, Any] = {}
    with engine.connect() as conn:
        conn.execute(query, params).all()  # warm the cache and the connection
        for _ in range(repeats):
            started = time.perf_counter()
            rows = len(conn.execute(query, params).all())
            walls.append((time.perf_counter() - started) * 1000)
            raw = conn.execute(explain, params).scalar_one()
            doc = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            execs.append(doc["Execution Time"])
            plan = doc["Plan"]
        conn.rollback()
    nodes = list(plan_nodes(plan))
    top = [n["Node Type"] for n in nodes[:6]]
    indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    seq_on_nodes = any(n["Node Type"] == "Seq Scan"
                       and n.get("Relation Name") == "video_production_nodes" for n in nodes)
    return statistics.median(walls), statistics.median(execs), top, indexes, seq_on_nodes, rows


def queries(pipelines: int) -> list[tuple[str, sa.TextClause, dict[str, Any]]]:
    """Each sensor's query with the parameters a tick uses."""
    run_ids = [f"run-{p}" for p in range(1, pipelines, 20)][:50] + [str(uuid.uuid4())] * 50
    window = {"after_p": ready.NIL_UUID, "after_n": ready.NIL_UUID,
              "max_failures": ready.MAX_AUTO_RETRIES, "uuid_re": ready.UUID_TEXT_RE}
    return [
        ("ready-node query", ready.READY_NODES,
         {**window, "scan_limit": ready.READY_SCAN_LIMIT}),
        ("ready-node query, every candidate in one window (not a tick; for scale)",
         ready.READY_NODES, {**window, "scan_limit": 1_000_000}),
        ("validation-needed query", PENDING_PIPELINES, {"limit": 200}),
        ("reaper query", reaper.EXPIRED, {"limit": reaper.REAPER_LIMIT}),
        ("run-failure in_progress-by-run-id query", run_failures.RUNNING_FOR_RUNS,
         {"run_ids": run_ids}),
        ("run-failure orphan sweep query", run_failures.ORPHAN_CANDIDATES, {
            "grace": 300.0, "after": "00000000-0000-0000-0000-000000000000",
            "limit": run_failures.ORPHAN_LIMIT}),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 nodes instead of 100,000")
    parser.add_argument("--nodes", type=int, help="node count (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per query")
    args = parser.parse_args()
    nodes = args.nodes or (5_000 if args.quick else 100_000)
    with server_url() as (server, _), scratch_database(server) as url:
        engine = db_engine.get_engine(url)
        started = time.perf_counter()
        counts = populate(engine, nodes)
        print(f"built {counts['nodes']} nodes in {counts['pipelines']} pipelines in "
              f"{time.perf_counter() - started:.1f} s: {counts['candidates']} pending/failed "
              f"valid, {counts['running']} in_progress ({counts['expired']} past deadline), "
              f"{counts['unvalidated']} needing validation")
        worst = 0.0
        for label, query, params in queries(counts["pipelines"]):
            wall, execution, top, indexes, seq, rows = measure(engine, query, params,
                                                               args.repeats)
            if "not a tick" not in label:
                worst = max(worst, wall, execution)
            print(f"{label}: median {wall:.2f} ms (EXPLAIN ANALYZE execution {execution:.2f} ms), "
                  f"{rows} row(s); ratio to the {TARGET_MS:.0f} ms target: "
                  f"{max(wall, execution) / TARGET_MS:.3f}")
            print(f"  plan: {' > '.join(top)}; indexes: {', '.join(indexes) or 'none'}; "
                  f"uses an index: {'yes' if indexes else 'NO'}"
                  + ("; sequential scan of video_production_nodes" if seq else ""))
        print(f"worst sensor query: {worst:.2f} ms, ratio to target {worst / TARGET_MS:.3f} "
              f"({'within' if worst <= TARGET_MS else 'OVER'} target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
