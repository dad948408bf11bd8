"""`dagster-daemon` as video-dagster runs it: sensors evaluated every second, not every five.

Dagster's sensor daemon starts a round of sensor ticks every 5 s (`MIN_INTERVAL_LOOP_TIME`, not
configurable), whatever a sensor's `minimum_interval_seconds`. For us that round is most of the
wait between a pipeline written and its first node running: the ready-node sensor can only
request new nodes once the refresher has reloaded the graph, which is one round later
(bench/reaction.py). Our sensors keep their own intervals; only the two at 1 s (ready nodes, the
graph refresher) run more often. Every other daemon is untouched.

    python -m video_dagster.cli.dagster_daemon run      # instead of `dagster-daemon run`

`video-dagster dev` starts the daemon through this module (cli/dagster_dev.py).
"""

from __future__ import annotations

import dagster._daemon.sensor as sensor_daemon
from dagster._daemon.cli import main

SENSOR_LOOP_SECONDS = 1.0


def use_fast_sensor_loop() -> None:
    """Start a round of sensor ticks every SENSOR_LOOP_SECONDS."""
    if not hasattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME"):
        raise RuntimeError("this Dagster version has no sensor loop interval to set "
                           "(dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME)")
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = SENSOR_LOOP_SECONDS  # type: ignore[assignment]


if __name__ == "__main__":
    use_fast_sensor_loop()
    main()
