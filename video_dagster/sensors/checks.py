"""Node-checks sensor: every node's `valid` check follows its validation verdict, runless.

An invalid node never runs, so no materialization would ever evaluate its checks; without this,
it would look exactly like a healthy pending node. The cursor keeps one hash per pipeline of its
nodes' verdicts, so a verdict is reported once per change (imports, editor edits, validation)
and nothing is re-reported after a restart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from video_dagster.assets.checks import CHECK_VALID, valid_result
from video_dagster.domain.keys import KEY_LAYOUT, asset_key_path
from video_dagster.resources.database import DatabaseResource

CHECKS_INTERVAL_SECONDS = 15
CHECKS_LIMIT = 2000  # evaluations per tick; the rest follow on the next ticks

VERDICT_HASHES = sa.text(
    "SELECT pipeline_id::text AS pipeline_id, md5(string_agg(id::text || ':' || type || ':' "
    "|| is_valid::text || ':' || validation_errors::text, '|' ORDER BY id)) AS verdicts "
    "FROM video_production_nodes GROUP BY pipeline_id ORDER BY pipeline_id"
)
VERDICTS = sa.text(
    "SELECT id::text AS node_id, pipeline_id::text AS pipeline_id, type, is_valid, "
    "validation_errors FROM video_production_nodes "
    "WHERE pipeline_id = ANY(CAST(:ids AS uuid[])) ORDER BY pipeline_id, id"
)


@dataclass(frozen=True)
class Verdict:
    """One node's validation verdict."""

    node_id: str
    pipeline_id: str
    type: str
    is_valid: bool
    validation_errors: Any


@dataclass(frozen=True)
class ChecksDecision:
    """Evaluations to report and the cursor to keep."""

    evaluations: list[AssetCheckEvaluation]
    cursor: dict[str, str]
    waiting: int  # pipelines with a node not in the loaded graph yet


def decide(cursor: Mapping[str, str], hashes: Mapping[str, str],
           verdicts: Sequence[Verdict], known_keys: frozenset[AssetKey],
           limit: int) -> ChecksDecision:
    """Evaluations for the pipelines whose verdicts changed (pure)."""
    by_pipeline: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_pipeline.setdefault(v.pipeline_id, []).append(v)
    kept = {p: h for p, h in cursor.items() if p in hashes}  # deleted pipelines drop out
    evaluations: list[AssetCheckEvaluation] = []
    waiting = 0
    for pid, nodes in by_pipeline.items():
        keys = [AssetKey(asset_key_path(pid, n.node_id, n.type)) for n in nodes]
        if any(k not in known_keys for k in keys):
            waiting += 1  # report once the location has reloaded with every node of it
            continue
        if len(evaluations) + len(nodes) > limit and evaluations:
            break
        for key, n in zip(keys, nodes, strict=True):
            errors = n.validation_errors if isinstance(n.validation_errors, dict) else {}
            result = valid_result(key, n.is_valid, errors)
            evaluations.append(AssetCheckEvaluation(
                asset_key=key, check_name=CHECK_VALID, passed=result.passed,
                metadata=result.metadata))
        kept[pid] = hashes[pid]
    return ChecksDecision(evaluations, kept, waiting)


def build_node_checks_sensor(known_keys: frozenset[AssetKey], limit: int = CHECKS_LIMIT,
                             interval: int = CHECKS_INTERVAL_SECONDS) -> SensorDefinition:
    """The node-checks sensor."""

    @sensor(
        name="video_node_checks_sensor",
        minimum_interval_seconds=interval,
        default_status=DefaultSensorStatus.RUNNING,
        description="Reports each node's `valid` check whenever its validation verdict changes.",
    )
    def video_node_checks_sensor(
        context: SensorEvaluationContext, database: DatabaseResource
    ) -> SensorResult:
        cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        engine = database.get_engine()
        with engine.connect() as conn:
            # The key layout is part of each hash: new keys get their evaluations too.
            hashes = {r.pipeline_id: f"{KEY_LAYOUT}:{r.verdicts}"
                      for r in conn.execute(VERDICT_HASHES)}
            changed = [p for p, h in hashes.items() if cursor.get(p) != h]
            rows = conn.execute(VERDICTS, {"ids": changed}).all() if changed else []
        verdicts = [Verdict(r.node_id, r.pipeline_id, r.type, r.is_valid, r.validation_errors)
                    for r in rows]
        decision = decide(cursor, hashes, verdicts, known_keys, limit)
        if decision.waiting:
            context.log.info(f"{decision.waiting} pipeline(s) wait for the next reload")
        if not decision.evaluations:
            return SensorResult(skip_reason="no validation verdict changed",
                                cursor=json.dumps(decision.cursor, sort_keys=True))
        invalid = sum(1 for e in decision.evaluations if not e.passed)
        context.log.info(f"reported {len(decision.evaluations)} `valid` check(s), "
                         f"{invalid} failing")
        return SensorResult(asset_events=decision.evaluations,
                            cursor=json.dumps(decision.cursor, sort_keys=True))

    return video_node_checks_sensor
