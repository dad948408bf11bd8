"""Which nodes `rerender` and `run` launch: valid ones, a node and its downstream, not-done ones."""

from __future__ import annotations

import argparse

import pytest

from video_dagster import cli
from video_dagster.cli import EXAMPLES_DIR, CliError
from video_dagster.cli.rerender import select
from video_dagster.db.lifecycle import Lifecycle


@pytest.fixture
def launch_db(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    cli.main(["pipeline", "import", str(EXAMPLES_DIR / "all_node_types.json")])
    return capsys.readouterr().out.strip()


def _args(pid: str, node: str | None = None, downstream: bool = False) -> argparse.Namespace:
    return argparse.Namespace(pipeline_ids=[pid[:8]], node=node, downstream=downstream)


def _titles(engine, args, forced) -> set[str]:
    with engine.connect() as conn:
        return {n.title for nodes in select(args, conn, forced).values() for n in nodes}


def test_node_and_its_downstream(launch_db, engine):
    pid = launch_db
    with engine.connect() as conn:
        everything = {n.title: n.id for n in select(_args(pid), conn, True)[pid]}
    assert len(everything) == 11
    voice = everything["Voiceover"]
    assert _titles(engine, _args(pid, voice[:8]), True) == {"Voiceover"}
    assert _titles(engine, _args(pid, voice, downstream=True), True) == {
        "Voiceover", "Presenter", "Intro with narration", "Main cut",
        "Final with presenter overlay"}


def test_run_skips_completed_nodes_and_rerender_does_not(launch_db, engine):
    pid = launch_db
    with engine.connect() as conn:
        script = {n.title: n.id for n in select(_args(pid), conn, True)[pid]}["Narration script"]
    lc = Lifecycle(engine)
    lc.succeeded(script, {"type": "text", "text": "hi"}, lc.started(script).process_uuid)
    assert "Narration script" not in _titles(engine, _args(pid), False)
    assert "Narration script" in _titles(engine, _args(pid), True)


def test_downstream_needs_a_node_and_the_node_its_pipeline(launch_db, engine, capsys):
    with engine.connect() as conn, pytest.raises(CliError, match="needs --node"):
        select(_args(launch_db, downstream=True), conn, True)
    cli.main(["pipeline", "import", str(EXAMPLES_DIR / "text_assets.json")])
    other = capsys.readouterr().out.strip()
    with engine.connect() as conn:
        foreign = next(iter(select(_args(other), conn, True)[other])).id
        with pytest.raises(CliError, match="not in the given pipeline"):
            select(_args(launch_db, foreign), conn, True)
