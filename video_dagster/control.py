"""The `video_control` code location: keeps the `video` location's graph in step with the database.

It lives outside `video` so that a reload never has to be triggered from inside the location being
reloaded, and so that a broken graph load in `video` does not stop the refresher.
"""

from __future__ import annotations

import os

from dagster import (
    DefaultSensorStatus,
    Definitions,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from video_dagster import refresh
from video_dagster.resources.database import DatabaseResource

REFRESH_INTERVAL_SECONDS = 10


@sensor(
    name="video_graph_refresher",
    minimum_interval_seconds=REFRESH_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Reloads the `video` location when pipelines or nodes change in the database.",
)
def video_graph_refresher(
    context: SensorEvaluationContext, database: DatabaseResource
) -> SensorResult | SkipReason:
    """Compare the database fingerprint with the last reloaded one; reload `video` if needed."""
    url = os.environ.get("DAGSTER_GRAPHQL_URL") or "http://127.0.0.1:3000/graphql"
    try:
        decision = refresh.refresh_once(
            database.get_engine(), context.cursor or None, lambda: refresh.reload_location(url)
        )
    except refresh.WebserverUnreachable as exc:
        # The daemon starts before the webserver; the cursor stays, so the next tick retries.
        # A reload the webserver refuses (ReloadFailed) still fails the tick visibly.
        return SkipReason(f"webserver not reachable yet, will retry: {exc}")
    if not decision.reload:
        return SkipReason(f"structure unchanged ({decision.fingerprint[:12]})")
    context.log.info(f"reloaded location video for structure {decision.fingerprint[:12]}")
    return SensorResult(cursor=decision.fingerprint)


defs = Definitions(
    sensors=[video_graph_refresher],
    resources={"database": DatabaseResource(url=os.environ.get("DATABASE_URL") or None)},
)
