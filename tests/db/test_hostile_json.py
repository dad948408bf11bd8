"""JSON the editor can store (10,000 deep) or a file can hold never stops validation or loading."""

from __future__ import annotations

import codecs
import json
import uuid

import pytest
import sqlalchemy as sa

from tests.db.helpers import make_node, make_pipeline, node_row
from video_dagster import cli
from video_dagster.assets.translator import build_node_assets
from video_dagster.db import validation
from video_dagster.db.snapshot import read_graph_snapshot
from video_dagster.domain.keys import asset_key_path, node_id_of_key

DEEP = 2000  # Python's json fails near 1,000; PostgreSQL's jsonb accepts 10,000

EDITOR_INSERT = sa.text(
    """
    INSERT INTO video_production_nodes (id, pipeline_id, title, type, inputs, config)
    VALUES (CAST(:id AS uuid), CAST(:pid AS uuid), :title, :type, CAST(:inputs AS jsonb),
            CAST(:config AS jsonb))
    """
)


def _deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def _editor_node(engine, pid: str, type_: str, *, inputs: str = "{}", config: str = "{}") -> str:
    """A row written straight into the table, as the editor does (no validation on the way)."""
    node_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(EDITOR_INSERT, {"id": node_id, "pid": pid, "title": f"{type_} node",
                                     "type": type_, "inputs": inputs, "config": config})
    return node_id


@pytest.fixture
def hostile(engine):
    """Pipeline 1 holds deep config, deep inputs and a huge number; pipeline 2 sorts after it."""
    first = make_pipeline(engine, "hostile")
    deep_config = _editor_node(engine, first, "merge-videos", config=_deep(DEEP))
    deep_inputs = _editor_node(engine, first, "merge-videos", inputs=_deep(DEEP),
                               config='{"provider": "ffmpeg"}')
    huge_number = _editor_node(engine, first, "mix-audio",
                               config='{"provider": "ffmpeg", "n": 1e5000}')
    fine = make_node(engine, first)
    second = str(uuid.UUID(int=(1 << 128) - 1))  # the last pipeline id in any order
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO video_production_pipelines (id, title) "
                             "VALUES (CAST(:id AS uuid), 'later')"), {"id": second})
    later = _editor_node(engine, second, "merge-videos", config='{"provider": "ffmpeg"}')
    return {"first": first, "second": second, "deep_config": deep_config,
            "deep_inputs": deep_inputs, "huge_number": huge_number, "fine": fine, "later": later}


def test_validation_pass_marks_deep_nodes_and_goes_on(engine, hostile):
    results = validation.validate_changed(engine)
    assert {r.pipeline_id for r in results} == {hostile["first"], hostile["second"]}
    config = node_row(engine, hostile["deep_config"])
    assert not config.is_valid and config.validation_errors["config"] == "is nested too deeply"
    inputs = node_row(engine, hostile["deep_inputs"])
    assert not inputs.is_valid and inputs.validation_errors["inputs"] == "is nested too deeply"
    huge = node_row(engine, hostile["huge_number"])
    assert not huge.is_valid
    assert huge.validation_errors["config"] == "holds a number too large to read"
    assert node_row(engine, hostile["fine"]).is_valid
    later = node_row(engine, hostile["later"])
    assert later.validation_errors == {"segments": "is required for merge-videos nodes"}
    assert validation.validate_changed(engine) == []  # nothing left marked: no pass repeats


def test_cli_validate_does_not_crash(engine, db_url, hostile, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert cli.main(["validate"]) == 3  # exit 3: invalid nodes found (documented)
    out = capsys.readouterr().out
    assert f"{hostile['first']}: 4 nodes, 3 invalid" in out
    assert f"{hostile['second']}: 1 nodes, 1 invalid" in out


def test_cli_export_of_a_deep_node_is_one_line_error(engine, db_url, hostile, monkeypatch,
                                                     capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert cli.main(["pipeline", "export", hostile["first"]]) == 1
    err = capsys.readouterr().err.splitlines()[-1]  # after the "database: ..." note
    assert err.startswith("error: cannot export pipeline")
    assert "is nested too deeply" in err or "too large to read" in err
    assert cli.main(["pipeline", "export", hostile["second"]]) == 0


def test_code_location_loads_with_deep_inputs(engine, hostile):
    snapshot = read_graph_snapshot(engine)
    nodes = {n.id: n for p in snapshot.pipelines for n in p.nodes}
    assert nodes[hostile["deep_inputs"]].input_ids == ()
    keys = {tuple(key.path) for spec in build_node_assets(snapshot) for key in spec.keys}
    assert set(nodes) <= {node_id_of_key(k) for k in keys}
    later = nodes[hostile["later"]]
    assert tuple(asset_key_path(hostile["second"], later.id, later.type)) in keys


BAD_FILES = {
    "invalid UTF-8": b'{"title": "caf\xe9"}',
    "invalid UTF-16": codecs.BOM_UTF16_LE + '{"title": "x"}'.encode("utf-16-le")[:-1],
    "NUL in a string": b'{"title": "a\\u0000b"}',
    "lone surrogate": b'{"title": "\\ud800"}',
    "NaN": b'{"title": "t", "nodes": [{"type": "asset", "config": {"x": NaN}}]}',
    "Infinity": b'{"title": "t", "metadata": {"x": -Infinity}}',
    "1e999": b'{"title": "t", "metadata": {"x": 1e999}}',
    "huge integer": b'{"title": "t", "metadata": {"x": ' + b"9" * 5000 + b"}}",
    "1,500 nesting": b'{"title": "t", "metadata": ' + _deep(1500).encode() + b"}",
    "200k nesting": b"[" * 200_000 + b"]" * 200_000,
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_cli_import_of_a_hostile_file_is_one_line_error(db_url, monkeypatch, tmp_path, capsys,
                                                        content):
    monkeypatch.setenv("DATABASE_URL", db_url)
    path = tmp_path / "doc.json"
    path.write_bytes(content)
    assert cli.main(["pipeline", "import", str(path)]) == 1
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"error: cannot read {path}: ") and "\n" not in message
    assert len(message) < 300
    assert cli.main(["pipeline", "list"]) == 0
    assert "doc.json" not in capsys.readouterr().out


def test_utf16_file_with_bom_imports(db_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    path = tmp_path / "doc16.json"
    path.write_bytes(codecs.BOM_UTF16_LE + json.dumps({"title": "wide"}).encode("utf-16-le"))
    assert cli.main(["pipeline", "import", str(path)]) == 0
    assert uuid.UUID(capsys.readouterr().out.strip())
