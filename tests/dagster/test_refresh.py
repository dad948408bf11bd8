"""The graph refresher: fingerprint, decision, unreachable webserver."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, SkipReason, build_sensor_context

from tests.db.helpers import make_node, make_pipeline
from video_dagster import refresh
from video_dagster.control import video_graph_refresher
from video_dagster.resources.database import DatabaseResource


def _dead_url() -> str:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/graphql"


def test_fingerprint_follows_graph_structure_only(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid, type="generate-voiceover", config={"provider": "elevenlabs"})
    first = refresh.database_fingerprint(engine)
    with engine.begin() as conn:  # a config edit that keeps the provider: same graph
        conn.execute(sa.text("UPDATE video_production_nodes SET config = config || "
                             "'{\"voiceId\": \"v2\"}' WHERE id = :id"), {"id": nid})
    assert refresh.database_fingerprint(engine) == first
    make_node(engine, pid)
    second = refresh.database_fingerprint(engine)
    assert second != first
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE video_production_pipelines SET title = 'Renamed'"))
    assert refresh.database_fingerprint(engine) != second


def test_decide_reloads_only_on_change():
    assert refresh.decide(None, "a").reload
    assert not refresh.decide("a", "a").reload
    assert refresh.decide("a", "b") == refresh.RefreshDecision(True, "b")


def test_refresh_once_reloads_and_remembers(engine):
    calls = []
    first = refresh.refresh_once(engine, None, lambda: calls.append(1))
    again = refresh.refresh_once(engine, first.fingerprint, lambda: calls.append(1))
    assert calls == [1] and first.reload and not again.reload


def test_unreachable_webserver_is_its_own_error():
    with pytest.raises(refresh.WebserverUnreachable, match="cannot reach Dagster"):
        refresh.reload_location(_dead_url())


def test_sensor_skips_without_advancing_while_the_webserver_starts(db_url, monkeypatch):
    monkeypatch.setenv("DAGSTER_GRAPHQL_URL", _dead_url())
    with DagsterInstance.ephemeral() as instance:
        ctx = build_sensor_context(instance=instance, cursor="old",
                                   resources={"database": DatabaseResource(url=db_url)})
        result = video_graph_refresher(ctx)
    assert isinstance(result, SkipReason) and "not reachable" in (result.skip_message or "")
    assert ctx.cursor == "old"
