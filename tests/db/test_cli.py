"""The `video-dagster` command against a real database."""

from __future__ import annotations

import json

import pytest

from video_dagster import cli
from video_dagster.cli import EXAMPLES_DIR


@pytest.fixture
def cli_db(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def test_import_show_validate_export(cli_db, capsys, tmp_path):
    assert cli.main(["pipeline", "import", str(EXAMPLES_DIR / "text_assets.json")]) == 3
    pid = capsys.readouterr().out.strip()
    cli.main(["pipeline", "show", pid])
    out = capsys.readouterr().out
    assert "Script drafts" in out and "provider: is required for generate-voiceover nodes" in out
    cli.main(["validate", "--pipeline", pid])
    assert "3 nodes, 1 invalid" in capsys.readouterr().out
    cli.main(["pipeline", "export", pid])
    doc = json.loads(capsys.readouterr().out)
    assert doc["nodes"][0]["title"] == "Intro script"
    cli.main(["pipeline", "list"])
    assert pid[:8] in capsys.readouterr().out


def test_import_of_a_bad_file_says_why(cli_db, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli.main(["pipeline", "import", str(bad)]) == 1
    assert "error: cannot read" in capsys.readouterr().err
    bad.write_text('{"nodes": []}')
    assert cli.main(["pipeline", "import", str(bad)]) == 1
    assert "string 'title'" in capsys.readouterr().err


def test_unmigrated_shared_database_is_refused(pg_server, monkeypatch, _admin, capsys):
    import uuid

    import sqlalchemy as sa

    name = f"vd_empty_{uuid.uuid4().hex[:8]}"
    with _admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    from tests.conftest import _with_database

    monkeypatch.setenv("DATABASE_URL", _with_database(pg_server, name))
    try:
        assert cli.main(["pipeline", "list"]) == 1
        assert "run `video-dagster db upgrade`" in capsys.readouterr().err
        assert cli.main(["db", "upgrade"]) == 0
        assert cli.main(["pipeline", "list"]) == 0
    finally:
        from video_dagster.db.engine import get_engine

        get_engine(_with_database(pg_server, name)).dispose()
        with _admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
