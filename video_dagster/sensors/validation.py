"""Validation sensor: validate pipelines whose nodes or node set changed since the last pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dagster import (
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from video_dagster.db.validation import PipelineValidation, validate_changed
from video_dagster.resources.database import DatabaseResource

VALIDATION_INTERVAL_SECONDS = 15
VALIDATION_LIMIT = 200  # pipelines per tick, one short transaction each


@dataclass(frozen=True)
class ValidationDecision:
    """What to report for one pass: a skip reason, or log lines about the validated pipelines."""

    skip_reason: str | None
    lines: tuple[str, ...]


def decide(results: Sequence[PipelineValidation], limit: int) -> ValidationDecision:
    """Summarise a validation pass (pure)."""
    if not results:
        return ValidationDecision("no pipeline changed since the last validation", ())
    nodes = sum(r.nodes for r in results)
    invalid = sum(r.invalid for r in results)
    written = sum(r.written for r in results)
    lines = [
        f"validated {len(results)} pipeline(s), {nodes} node(s): {invalid} invalid, "
        f"{written} verdict(s) written"
        + (" (more may be waiting for the next tick)" if len(results) >= limit else "")
    ]
    lines += [
        f"pipeline {r.pipeline_id}: {r.nodes} node(s), {r.invalid} invalid, {r.written} written"
        for r in results
        if r.written or r.invalid
    ]
    return ValidationDecision(None, tuple(lines))


def build_validation_sensor(
    limit: int = VALIDATION_LIMIT, interval: int = VALIDATION_INTERVAL_SECONDS
) -> SensorDefinition:
    """The validation sensor."""

    @sensor(
        name="video_validation_sensor",
        minimum_interval_seconds=interval,
        default_status=DefaultSensorStatus.RUNNING,
        description="Validates nodes whose structure changed (the editor writes it directly).",
    )
    def video_validation_sensor(
        context: SensorEvaluationContext, database: DatabaseResource
    ) -> SensorResult:
        decision = decide(validate_changed(database.get_engine(), limit), limit)
        for line in decision.lines:
            context.log.info(line)
        return SensorResult(skip_reason=decision.skip_reason)

    return video_validation_sensor
