"""The graph refresher: fingerprint, decision, unreachable webserver."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, SensorResult, build_sensor_context

from tests.db.helpers import make_node, make_pipeline
from video_dagster import cli, control, refresh
from video_dagster.control import video_graph_refresher
from video_dagster.db import validation
from video_dagster.db.lifecycle import Lifecycle
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


@pytest.fixture(autouse=True)
def _short_listen(monkeypatch):
    monkeypatch.setattr(control, "LISTEN_SECONDS", 0.2)


def _tick(db_url: str, cursor: str | None) -> tuple[SensorResult, str | None]:
    with DagsterInstance.ephemeral() as instance:
        ctx = build_sensor_context(instance=instance, cursor=cursor,
                                   resources={"database": DatabaseResource(url=db_url)})
        result = video_graph_refresher(ctx)
    assert isinstance(result, SensorResult)
    return result, result.cursor


def test_sensor_skips_without_advancing_while_the_webserver_starts(db_url, monkeypatch):
    monkeypatch.setenv("DAGSTER_GRAPHQL_URL", _dead_url())
    result, cursor = _tick(db_url, "old")  # the earlier cursor form: a bare fingerprint
    assert not result.run_requests
    assert "not reachable" in str(result.skip_reason)
    state = refresh.RefresherState.decode(cursor)
    assert state.fingerprint == "old", "the reload is retried next tick"
    assert state.unreachable_since is not None and time.time() - state.unreachable_since < 30
    # Still within the minute: the first failure time is kept, not reset.
    again, cursor = _tick(db_url, cursor)
    assert "not reachable" in str(again.skip_reason)
    assert refresh.RefresherState.decode(cursor).unreachable_since == state.unreachable_since


def test_sensor_fails_its_tick_after_a_minute_unreachable(db_url, monkeypatch):
    dead = _dead_url()
    monkeypatch.setenv("DAGSTER_GRAPHQL_URL", dead)
    stuck = refresh.RefresherState("old", time.time() - 61).encode()
    with pytest.raises(refresh.WebserverUnreachable, match=r"not answered for 6\ds") as err:
        _tick(db_url, stuck)
    assert dead in str(err.value) and "DAGSTER_GRAPHQL_URL" in str(err.value)


def test_sensor_forgets_the_outage_once_nothing_needs_a_reload(engine, db_url, monkeypatch):
    monkeypatch.setenv("DAGSTER_GRAPHQL_URL", _dead_url())
    current = refresh.database_fingerprint(engine)
    result, cursor = _tick(db_url, refresh.RefresherState(current, time.time() - 30).encode())
    assert "structure unchanged" in str(result.skip_reason)
    assert refresh.RefresherState.decode(cursor) == refresh.RefresherState(current)


def test_graphql_url_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv("DAGSTER_GRAPHQL_URL", raising=False)
    assert refresh.graphql_url() == "http://127.0.0.1:3000/graphql"
    monkeypatch.setenv("DAGSTER_GRAPHQL_URL", "http://127.0.0.1:4123/graphql")
    assert refresh.graphql_url() == "http://127.0.0.1:4123/graphql"
    assert refresh.graphql_url("http://h:1/graphql") == "http://h:1/graphql"


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:4123/graphql"),
    ("0.0.0.0", "http://127.0.0.1:4123/graphql"),
    ("localhost", "http://localhost:4123/graphql"),
    ("::1", "http://[::1]:4123/graphql"),
])
def test_dev_points_the_refresher_at_its_own_port(host, url):
    assert refresh.local_graphql_url(host, 4123) == url


def test_refresh_and_rerender_commands_honour_dagster_graphql_url(engine, db_url, monkeypatch,
                                                                   capsys):
    dead = _dead_url()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DAGSTER_GRAPHQL_URL", dead)
    pid = make_pipeline(engine)
    make_node(engine, pid)
    validation.validate_changed(engine, 10)
    # The structure is new to this command, so both must reach the webserver — at $URL.
    for command in (["refresh"], ["rerender", pid]):
        assert cli.main(command) == 1
        assert re.search(rf"^error: cannot reach Dagster at {re.escape(dead)}",
                         capsys.readouterr().err, re.M), command


def test_structure_writes_notify_the_refresher_and_status_writes_do_not(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid)
    with refresh.listening(engine) as wait:
        assert not wait(0.1)
        Lifecycle(engine).started(nid)  # execution bookkeeping: not a structure change
        assert not wait(0.3)
        with engine.begin() as conn:  # the editor renames a node with plain SQL
            conn.execute(sa.text("UPDATE video_production_nodes SET title = 'Renamed' "
                                 "WHERE id = :id"), {"id": nid})
        assert wait(5)
        make_node(engine, pid)
        assert wait(5)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM video_production_pipelines WHERE id = :id"),
                         {"id": pid})
        assert wait(5)


def test_sensor_wakes_on_a_structure_change_instead_of_waiting_out_its_tick(
        engine, db_url, monkeypatch):
    monkeypatch.setattr(control, "LISTEN_SECONDS", 120.0)
    monkeypatch.setenv("DAGSTER_GRAPHQL_URL", _dead_url())
    pid = make_pipeline(engine)
    current = refresh.RefresherState(refresh.database_fingerprint(engine)).encode()
    # The structure changes only once the tick is listening.
    timer = threading.Timer(0.5, make_node, (engine, pid))
    timer.start()
    try:
        result, _ = _tick(db_url, current)
    finally:
        timer.cancel()
    # Woken by the NOTIFY, it compared the fingerprint and tried to reload (dead webserver).
    assert "not reachable" in str(result.skip_reason)
