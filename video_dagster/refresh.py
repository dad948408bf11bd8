"""Graph refresh: reload the `video` code location when the database's structure changed.

The refresher lives outside the `video` location (the `video_control` location's sensor, or
`video-dagster refresh --watch`). It remembers the fingerprint it last reloaded at; whenever the
database's differs it asks the webserver, through Dagster's GraphQL API, to reload `video`, whose
loader then fetches the new graph. A change racing a reload is caught on the next comparison.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

log = logging.getLogger(__name__)

VIDEO_LOCATION = "video"
GRAPHQL_URL_ENV = "DAGSTER_GRAPHQL_URL"
DEFAULT_GRAPHQL_URL = "http://127.0.0.1:3000/graphql"
UNREACHABLE_GRACE_SECONDS = 60.0
"""How long the refresher may fail to reach the webserver before its ticks fail (not skip)."""
STRUCTURE_CHANNEL = "video_structure"
"""NOTIFY channel of the structure triggers (migration 0003)."""
SETTLE_SECONDS = 0.3
"""After a notification, wait this long for quiet (an editor saving node by node)..."""
SETTLE_MAX_SECONDS = 2.0
"""...but never longer than this before reloading."""

# Only what the asset graph is built from: ids, titles, types, inputs and providers. Config
# edits that keep the provider do not reload the location.
FINGERPRINT = sa.text(
    """
    SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (
        SELECT 'p:' || id || ':' || title AS x FROM video_production_pipelines
        UNION ALL
        SELECT 'n:' || id || ':' || pipeline_id || ':' || title || ':' || type || ':'
               || inputs::text || ':' || coalesce(config ->> 'provider', '')
        FROM video_production_nodes
    ) s
    """
)


def graphql_url(explicit: str | None = None) -> str:
    """The webserver's GraphQL endpoint: the explicit one, else DAGSTER_GRAPHQL_URL, else :3000."""
    return explicit or os.environ.get(GRAPHQL_URL_ENV) or DEFAULT_GRAPHQL_URL


def local_graphql_url(host: str, port: int) -> str:
    """The GraphQL URL of a webserver bound to `host:port`, as reachable from this machine."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"  # a wildcard bind is reachable on loopback
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}/graphql"


@contextmanager
def listening(engine: sa.Engine) -> Iterator[Callable[[float], bool]]:
    """LISTEN for structure changes; yields `wait(timeout)`: True once a change was notified.

    Enter before reading the fingerprint, so a change committed in between is not missed.
    """
    import psycopg

    from video_dagster import settings

    url = engine.url.render_as_string(hide_password=False)
    # Its own connection: a LISTENing session must not go back to the pool.
    with psycopg.connect(settings.libpq_url(url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"LISTEN {STRUCTURE_CHANNEL}")

        def wait(timeout: float) -> bool:
            if not any(True for _ in conn.notifies(timeout=timeout, stop_after=1)):
                return False
            settle_until = time.monotonic() + SETTLE_MAX_SECONDS
            while time.monotonic() < settle_until and any(
                    True for _ in conn.notifies(timeout=SETTLE_SECONDS, stop_after=1)):
                pass
            return True

        yield wait


def database_fingerprint(engine: sa.Engine) -> str:
    """A hash of the graph-relevant structure in the database."""
    with engine.connect() as conn:
        return str(conn.execute(FINGERPRINT).scalar_one())


class ReloadFailed(RuntimeError):
    """The webserver refused or failed to reload the location."""


class WebserverUnreachable(ReloadFailed):
    """Nothing answered at the GraphQL URL (e.g. the webserver is still starting)."""


def reload_location(graphql_url: str, location: str = VIDEO_LOCATION) -> None:
    """Ask the Dagster webserver to reload a code location (GraphQL reloadRepositoryLocation)."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
    from dagster_graphql.client.utils import ReloadRepositoryLocationStatus

    parts = urlsplit(graphql_url)
    prefix = parts.path.removesuffix("/graphql").rstrip("/")
    try:
        client = DagsterGraphQLClient(
            parts.hostname or "127.0.0.1",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            path_prefix=prefix,
            timeout=120,
        )
        info = client.reload_repository_location(location)
    except DagsterGraphQLClientError as exc:
        raise WebserverUnreachable(f"cannot reach Dagster at {graphql_url}: {exc}") from exc
    if info.status != ReloadRepositoryLocationStatus.SUCCESS:
        raise ReloadFailed(f"reloading {location} failed: {info.failure_type}: {info.message}")


@dataclass(frozen=True)
class RefreshDecision:
    """Whether to reload, and the fingerprint to remember afterwards."""

    reload: bool
    fingerprint: str


@dataclass(frozen=True)
class RefresherState:
    """The refresher sensor's cursor: the fingerprint last reloaded at, and since when (epoch
    seconds) the webserver has not answered, if it has not."""

    fingerprint: str | None = None
    unreachable_since: float | None = None

    def encode(self) -> str:
        """The cursor string (JSON)."""
        return json.dumps({"fingerprint": self.fingerprint,
                           "unreachable_since": self.unreachable_since}, sort_keys=True)

    @classmethod
    def decode(cls, cursor: str | None) -> RefresherState:
        """Inverse of encode; a bare fingerprint (the earlier cursor form) is read as one."""
        if not cursor:
            return cls()
        try:
            raw = json.loads(cursor)
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            return cls(fingerprint=cursor)
        since = raw.get("unreachable_since")
        fingerprint = raw.get("fingerprint")
        return cls(
            fingerprint=fingerprint if isinstance(fingerprint, str) else None,
            unreachable_since=float(since) if isinstance(since, int | float) else None,
        )


def unreachable_too_long(state: RefresherState, now: float,
                         grace: float = UNREACHABLE_GRACE_SECONDS) -> bool:
    """Whether the webserver has been unreachable for longer than `grace` seconds (pure)."""
    return state.unreachable_since is not None and now - state.unreachable_since > grace


def decide(last_reloaded: str | None, current: str) -> RefreshDecision:
    """Reload when the structure differs from the one last reloaded at (or none is known)."""
    return RefreshDecision(reload=last_reloaded != current, fingerprint=current)


def refresh_once(
    engine: sa.Engine,
    last_reloaded: str | None,
    reload: Callable[[], None],
) -> RefreshDecision:
    """Compare and reload if needed; returns the decision (raises ReloadFailed)."""
    decision = decide(last_reloaded, database_fingerprint(engine))
    if decision.reload:
        reload()
    return decision


def watch(engine: sa.Engine, graphql_url: str, interval: float, once: bool = False) -> None:
    """Reload `video` whenever the structure changes (woken by NOTIFY; `interval` at most)."""
    last: str | None = None
    with listening(engine) as wait:
        while True:
            try:
                decision = refresh_once(engine, last, lambda: reload_location(graphql_url))
            except ReloadFailed as exc:
                log.error("%s", exc)
                if once:
                    raise
            else:
                if decision.reload:
                    log.info("reloaded %s at structure %s", VIDEO_LOCATION, decision.fingerprint)
                last = decision.fingerprint
            if once:
                return
            wait(interval)
