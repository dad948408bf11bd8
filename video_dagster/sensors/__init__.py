"""Sensors of the `video` location: one module per trigger, assembled by `build_sensors`."""

from __future__ import annotations

from dagster import AssetKey, SensorDefinition

from video_dagster.sensors.callbacks import build_callbacks_sensor
from video_dagster.sensors.checks import build_node_checks_sensor
from video_dagster.sensors.ready import build_ready_nodes_sensor
from video_dagster.sensors.reaper import build_deadline_reaper_sensor
from video_dagster.sensors.run_failures import build_run_failure_sensor
from video_dagster.sensors.validation import build_validation_sensor


def build_sensors(known_keys: frozenset[AssetKey]) -> list[SensorDefinition]:
    """All sensors; those that name assets only ever name keys in `known_keys`."""
    return [
        build_validation_sensor(),
        build_ready_nodes_sensor(known_keys),
        build_callbacks_sensor(known_keys),
        build_run_failure_sensor(),
        build_deadline_reaper_sensor(),
        build_node_checks_sensor(known_keys),
    ]
