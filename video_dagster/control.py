"""The `video_control` code location: keeps the `video` location's graph in step with the database.

It lives outside `video` so that a reload never has to be triggered from inside the location being
reloaded, and so that a broken graph load in `video` does not stop the refresher.
"""

from __future__ import annotations

import os
import time

from dagster import (
    DefaultSensorStatus,
    Definitions,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from video_dagster import refresh
from video_dagster.resources.database import DatabaseResource

REFRESH_INTERVAL_SECONDS = 1
# A tick with nothing to reload waits this long for a structure NOTIFY before it ends: a change
# is reloaded within a fraction of a second instead of at the next poll. The daemon starts the
# next tick at its next round (every second, cli/dagster_daemon.py), which compares the
# fingerprint first, so a change in the gap is seen within a second. Kept short: a stopping code
# server waits for this tick, and `dagster dev` restarts a code server that exits while it is
# not stopping yet (cli/dev.py ends such leftovers).
LISTEN_SECONDS = 4.0


@sensor(
    name="video_graph_refresher",
    minimum_interval_seconds=REFRESH_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Reloads the `video` location when pipelines or nodes change in the database.",
)
def video_graph_refresher(
    context: SensorEvaluationContext, database: DatabaseResource
) -> SensorResult:
    """Compare the database fingerprint with the last reloaded one; reload `video` if needed."""
    url = refresh.graphql_url()
    state = refresh.RefresherState.decode(context.cursor)
    engine = database.get_engine()
    try:
        with refresh.listening(engine) as wait:
            decision = refresh.refresh_once(
                engine, state.fingerprint, lambda: refresh.reload_location(url)
            )
            if not decision.reload and wait(LISTEN_SECONDS):
                decision = refresh.refresh_once(
                    engine, decision.fingerprint, lambda: refresh.reload_location(url)
                )
    except refresh.WebserverUnreachable as exc:
        # The daemon starts before the webserver: skip (fingerprint kept, so the next tick
        # retries) for a while, then fail every tick — a refresher pointed at the wrong port
        # must not look healthy. A reload the webserver refuses (ReloadFailed) fails at once.
        now = time.time()
        since = state.unreachable_since or now
        state = refresh.RefresherState(state.fingerprint, since)
        if refresh.unreachable_too_long(state, now):
            raise refresh.WebserverUnreachable(
                f"the Dagster webserver has not answered for {now - since:.0f}s"
                f" ({exc}); `video-dagster dev` points {refresh.GRAPHQL_URL_ENV} at its own "
                f"port, elsewhere set it to the webserver's /graphql URL"
            ) from exc
        return SensorResult(skip_reason=f"webserver not reachable yet, will retry: {exc}",
                            cursor=state.encode())
    cursor = refresh.RefresherState(decision.fingerprint).encode()
    if not decision.reload:
        return SensorResult(skip_reason=f"structure unchanged ({decision.fingerprint[:12]})",
                            cursor=cursor)
    context.log.info(f"reloaded location video for structure {decision.fingerprint[:12]}")
    return SensorResult(cursor=cursor)


defs = Definitions(
    sensors=[video_graph_refresher],
    resources={"database": DatabaseResource(url=os.environ.get("DATABASE_URL") or None)},
)
