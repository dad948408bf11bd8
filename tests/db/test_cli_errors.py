"""The CLI's refusals: one `error:` line and a documented exit status, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from video_dagster import cli, settings
from video_dagster.cli import EXAMPLES_DIR


@pytest.fixture
def cli_db(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("database: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def _import(capsys, name: str = "text_assets.json") -> str:
    cli.main(["pipeline", "import", str(EXAMPLES_DIR / name)])
    return capsys.readouterr().out.strip()


@pytest.mark.parametrize("action", ["show", "export", "delete"])
@pytest.mark.parametrize("target", ["not-a-uuid", str(uuid.uuid4())])
def test_pipeline_commands_refuse_bad_and_unknown_ids(cli_db, capsys, action, target):
    assert cli.main(["pipeline", action, target]) == 1
    assert target in _one_error_line(capsys.readouterr().err)


def test_validate_refuses_bad_and_unknown_pipelines(cli_db, capsys):
    assert cli.main(["validate", "--pipeline", "not-a-uuid"]) == 1
    assert "is not a UUID" in _one_error_line(capsys.readouterr().err)
    missing = str(uuid.uuid4())
    assert cli.main(["validate", "--pipeline", missing]) == 1
    assert f"no pipeline {missing}" in _one_error_line(capsys.readouterr().err)


def test_validate_exit_status_says_whether_nodes_are_invalid(cli_db, capsys):
    bad = _import(capsys)
    assert cli.main(["validate", "--pipeline", bad]) == 3
    out = capsys.readouterr().out
    assert "3 nodes, 1 invalid" in out and "Voiceover missing its provider" in out
    good = _import(capsys, "merge_clips.json")
    assert cli.main(["validate", "--pipeline", good]) == 0
    assert cli.main(["validate"]) == 3  # every pipeline: the bad one is among them
    capsys.readouterr()
    assert cli.main(["validate", "--json", "--pipeline", bad]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert [n["title"] for n in doc["invalid_nodes"]] == ["Voiceover missing its provider"]


def test_import_names_invalid_nodes_by_the_files_ids(cli_db, capsys, tmp_path):
    doc = {"title": "Loop", "nodes": [
        {"id": "a", "title": "Mix A", "type": "mix-audio", "config": {"provider": "ffmpeg"},
         "inputs": {"video": "b", "audio": "b"}},
        {"id": "b", "title": "Mix B", "type": "mix-audio", "config": {"provider": "ffmpeg"},
         "inputs": {"video": "a", "audio": "ghost"}},
        {"id": "c", "title": "Odd", "type": "no-such-type"},
    ]}
    path = tmp_path / "loop.json"
    path.write_text(json.dumps(doc))
    assert cli.main(["pipeline", "import", str(path)]) == 3
    captured = capsys.readouterr()
    uuid.UUID(captured.out.strip())  # the pipeline was stored; its id is on stdout
    err = captured.err
    assert "3 of 3 nodes are invalid" in err
    assert "a (Mix A): inputs: Cycle detected: a -> b -> a" in err
    assert "b (Mix B):" in err and "references non-existent nodes: ghost" in err
    assert "c (Odd): " in err and "Unknown node type: no-such-type" in err
    # No database id appears: every node is named the way the file names it.
    assert not any(len(word) == 36 and word.count("-") == 4 for word in err.split())


def test_import_of_valid_nodes_exits_zero(cli_db, capsys):
    assert cli.main(["pipeline", "import", "merge_clips.json"]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["pipeline", "list", "extra"], ["db", "url", "extra"], ["validate", "extra"],
    ["pipeline", "show"], ["pipeline"],
])
def test_extra_or_missing_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refresh_and_rerender_with_nothing_listening(cli_db, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/graphql"
    assert cli.main(["refresh", "--url", url]) == 1
    assert "cannot reach Dagster" in _one_error_line(capsys.readouterr().err)
    pid = _import(capsys)
    assert cli.main(["rerender", pid, "--url", url]) == 1
    err = capsys.readouterr().err
    assert "cannot reach Dagster" in _one_error_line(
        "\n".join(line for line in err.splitlines() if not line.startswith("skipping")))


def test_a_closed_pipe_is_not_a_traceback(cli_db, capsys):
    pid = _import(capsys)
    env = {**os.environ, "DATABASE_URL": cli_db}
    proc = subprocess.Popen([sys.executable, "-m", "video_dagster.cli", "pipeline", "export", pid],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written, like `| head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_home_folder_does_not_depend_on_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("VIDEO_DAGSTER_HOME", raising=False)
    first = settings.home_dir()
    monkeypatch.chdir(tmp_path)
    assert settings.home_dir() == first
    assert tmp_path not in first.parents
    monkeypatch.setenv("VIDEO_DAGSTER_HOME", str(tmp_path / "h"))
    assert settings.home_dir() == tmp_path / "h"


def test_every_command_says_which_database_it_used(cli_db, capsys):
    assert cli.main(["pipeline", "list"]) == 0
    err = capsys.readouterr().err
    shown = sa.make_url(settings.libpq_url(cli_db)).database
    assert err.startswith("database: DATABASE_URL (postgresql://") and shown in err
    password = sa.make_url(cli_db).password
    assert not password or password not in err


def test_db_stop_refuses_while_clients_are_connected(monkeypatch, capsys):
    from video_dagster.db import embedded

    home = Path(tempfile.mkdtemp(prefix="vdh"))  # short: the server's socket lives under it
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VIDEO_DAGSTER_HOME", str(home))
    try:
        url = embedded.start(home)
        user = sa.create_engine(settings.sqlalchemy_url(url), poolclass=sa.pool.NullPool)
        with user.connect() as conn:  # e.g. the daemon of a running `video-dagster dev`
            conn.execute(sa.text("SELECT 1"))
            assert cli.main(["db", "stop"]) == 1
            assert "--force" in _one_error_line(capsys.readouterr().err)
            assert embedded.running_url(home) is not None
        assert cli.main(["db", "stop"]) == 0
        assert embedded.running_url(home) is None
        embedded.start(home)
        with user.connect():
            assert cli.main(["db", "stop", "--force"]) == 0
        assert embedded.running_url(home) is None
        user.dispose()
    finally:
        embedded.stop(home)
