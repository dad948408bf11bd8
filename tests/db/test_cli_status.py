"""`status`, `pipeline show|list` in 80 columns, `--json`, and id prefixes, on a real database."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from video_dagster import cli
from video_dagster.cli import EXAMPLES_DIR
from video_dagster.db.lifecycle import Lifecycle

LONG_ERROR = "provider said: " + "the avatar could not be rendered because " * 6 + "END"


@pytest.fixture
def pipeline(db_url, monkeypatch, engine, capsys):
    """The all-node-types example with one node running and one failed with a long error."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "80")
    cli.main(["pipeline", "import", str(EXAMPLES_DIR / "all_node_types.json")])
    pid = capsys.readouterr().out.strip()
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.text(
            "SELECT title, id::text FROM video_production_nodes WHERE pipeline_id = :p"),
            {"p": pid}).all())
    lc = Lifecycle(engine)
    running = lc.started(ids["Narration script"]).process_uuid
    lc.updated(ids["Narration script"], {"stage": "submitted"}, running)
    failed = lc.started(ids["Studio background"]).process_uuid
    lc.failed(ids["Studio background"], LONG_ERROR, failed)
    return pid, ids


def test_status_shows_progress_cost_and_the_nodes_needing_attention(pipeline, capsys):
    _, ids = pipeline
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Product launch explainer" in out and "0/11" in out and "estimated" in out
    running = next(line for line in out.splitlines() if ids["Narration script"][:8] in line)
    assert "in_progress" in running and "submitted" in running and "s " in running + " "
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if ids["Studio background"][:8] in line)
    assert "failed" in lines[at] and "error: provider said" in lines[at + 1]
    assert max(len(line) for line in out.splitlines()) <= 80
    assert ids["Voiceover"][:8] not in out  # pending and valid: nothing to say


def test_status_json_has_full_values(pipeline, capsys):
    pid, _ = pipeline
    assert cli.main(["status", pid[:6], "--json"]) == 0
    captured = capsys.readouterr()
    assert "database:" not in captured.err  # --json output is only the document
    (doc,) = json.loads(captured.out)
    assert doc["id"] == pid and doc["progress"]["in_progress"] == 1
    errors = {n["title"]: n["error"] for n in doc["nodes"]}
    assert errors["Studio background"] == LONG_ERROR


def test_show_fits_80_columns_and_json_keeps_full_values(pipeline, capsys):
    pid, _ = pipeline
    assert cli.main(["pipeline", "show", pid]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "END" not in out and "…" in out  # the long error is cut on screen
    assert cli.main(["pipeline", "show", pid, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {n["error"] for n in doc["nodes"]} >= {LONG_ERROR}
    assert len(doc["nodes"]) == 11


def test_list_json_and_prefixes(pipeline, capsys):
    pid, _ = pipeline
    assert cli.main(["pipeline", "list", "--json"]) == 0
    assert [p["id"] for p in json.loads(capsys.readouterr().out)] == [pid]
    assert cli.main(["pipeline", "export", pid[:8]]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Product launch explainer"
    assert cli.main(["pipeline", "show", "zz"]) == 1
    assert "not a UUID" in capsys.readouterr().err
