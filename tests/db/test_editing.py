"""Editing commands, import/export and the structure-version trigger (DESIGN §2, §4)."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from tests.db.helpers import make_node, make_pipeline, node_row, pipeline_meta
from video_dagster.cli import EXAMPLES_DIR
from video_dagster.db import editing, transfer, validation
from video_dagster.db.lifecycle import Lifecycle


def _voiceover(engine, pid, **kw):
    kw.setdefault("config", {"provider": "elevenlabs"})
    return make_node(engine, pid, type="generate-voiceover", **kw)


def test_create_stores_invalid_node_with_errors(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid, type="merge-videos", config={"provider": "ffmpeg"},
                    inputs={"segments": ["only-one"]})
    row = node_row(engine, nid)
    assert row.is_valid is False
    assert row.validation_errors == {"segments": "requires at least 2 items, got 1"}
    assert row.validated_version == row.structure_version == 1


def test_create_valid_node_and_estimated_cost(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid, type="generate-animation", config={"provider": "veo3"})
    row = node_row(engine, nid)
    assert row.is_valid and row.validation_errors == {}
    # 5 s maps to Veo's nearest 6 s, at $0.40/s (domain/prices.json)
    assert pipeline_meta(engine, pid)["estimatedTotalCost"] == 2.4


def test_update_replaces_wholesale_and_resets_status(engine):
    pid = make_pipeline(engine)
    src = make_node(engine, pid)
    nid = _voiceover(engine, pid, inputs={"script": src})
    lc = Lifecycle(engine)
    p = lc.started(nid).process_uuid
    lc.succeeded(nid, {"type": "audio"}, p)
    with engine.begin() as conn:
        rec = editing.update_node(conn, nid, config={"provider": "elevenlabs", "voiceId": "v2"})
    assert rec.config == {"provider": "elevenlabs", "voiceId": "v2"}
    assert rec.status == "pending" and rec.inputs == {"script": src}
    assert node_row(engine, nid).structure_version == 2


def test_update_with_identical_structure_keeps_status(engine):
    pid = make_pipeline(engine)
    nid = _voiceover(engine, pid)
    lc = Lifecycle(engine)
    lc.succeeded(nid, {}, lc.started(nid).process_uuid)
    with engine.begin() as conn:
        editing.update_node(conn, nid, config={"provider": "elevenlabs"}, title="Same")
    row = node_row(engine, nid)
    assert row.status == "completed" and row.structure_version == 1


def test_type_cannot_change(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid)
    with pytest.raises(editing.EditError, match="type cannot change"), engine.begin() as conn:
        editing.update_node(conn, nid, type="merge-videos")


def test_destroy_node_cleans_references(engine):
    pid = make_pipeline(engine)
    a, b, c = (make_node(engine, pid) for _ in range(3))
    merge = make_node(engine, pid, type="merge-videos", config={"provider": "ffmpeg"},
                      inputs={"segments": [a, b, c]})
    mix = make_node(engine, pid, type="mix-audio", config={"provider": "ffmpeg"},
                    inputs={"video": [a], "audio": b})
    with engine.begin() as conn:
        editing.destroy_node(conn, a)
    assert node_row(engine, merge).inputs == {"segments": [b, c]}
    mix_row = node_row(engine, mix)
    assert mix_row.inputs == {"audio": b}
    assert mix_row.validation_errors == {"video": "is required for mix-audio nodes"}
    with engine.begin() as conn:
        editing.destroy_node(conn, b)
        editing.destroy_node(conn, c)
    assert node_row(engine, merge).inputs == {"segments": []}  # the key stays, even if empty


def test_destroy_pipeline_cascades(engine):
    pid = make_pipeline(engine)
    nid = make_node(engine, pid)
    with engine.begin() as conn:
        editing.destroy_pipeline(conn, pid)
        assert conn.execute(sa.text("SELECT count(*) FROM video_production_nodes")).scalar() == 0
    with pytest.raises(editing.EditError), engine.begin() as conn:
        editing.get_node(conn, nid)


def test_update_pipeline(engine):
    pid = make_pipeline(engine)
    with engine.begin() as conn:
        editing.update_pipeline(conn, pid, title="Renamed", config={"storage": {"bucket": "b"}})
        row = conn.execute(sa.text("SELECT title, config FROM video_production_pipelines")).one()
    assert row.title == "Renamed" and row.config == {"storage": {"bucket": "b"}}
    with pytest.raises(editing.EditError), engine.begin() as conn:
        editing.update_pipeline(conn, pid, id="x")


def test_editor_insert_and_delete_queue_revalidation(engine):
    """A sibling appearing or vanishing outside our commands still revalidates its pipeline."""
    pid = make_pipeline(engine)
    future = str(uuid.uuid4())
    voice = _voiceover(engine, pid, inputs={"script": future})
    assert node_row(engine, voice).is_valid is False
    with engine.begin() as conn:  # the editor inserts the referenced node directly
        conn.execute(
            sa.text(
                "INSERT INTO video_production_nodes (id, pipeline_id, title, type, asset) "
                "VALUES (:id, :pid, 'Script', 'asset', '{\"content\": \"hi\"}')"
            ),
            {"id": future, "pid": pid},
        )
    validation.validate_changed(engine)
    assert node_row(engine, voice).is_valid is True
    with engine.begin() as conn:  # and deletes it again, without cleaning references
        conn.execute(sa.text("DELETE FROM video_production_nodes WHERE id = :id"), {"id": future})
    results = validation.validate_changed(engine)
    assert [r.pipeline_id for r in results] == [pid]
    assert node_row(engine, voice).validation_errors == {
        "script": f"references non-existent nodes: {future}"
    }
    assert validation.validate_changed(engine) == []


def test_cross_pipeline_reference_is_invalid(engine):
    p1, p2 = make_pipeline(engine), make_pipeline(engine)
    other = make_node(engine, p2)
    nid = _voiceover(engine, p1, inputs={"script": other})
    assert node_row(engine, nid).validation_errors == {
        "script": f"references non-existent nodes: {other}"
    }


def test_non_uuid_reference_is_not_a_database_error(engine):
    pid = make_pipeline(engine)
    nid = _voiceover(engine, pid, inputs={"script": "nope'); DROP TABLE x; --"})
    assert "references non-existent nodes" in node_row(engine, nid).validation_errors["script"]


def test_cycle_detected(engine):
    pid = make_pipeline(engine)
    a = make_node(engine, pid, type="mix-audio", config={"provider": "ffmpeg"})
    b = make_node(engine, pid, type="mix-audio", config={"provider": "ffmpeg"},
                  inputs={"video": a, "audio": a})
    with engine.begin() as conn:
        editing.update_node(conn, a, inputs={"video": b, "audio": b})
    for nid in (a, b):
        errors = node_row(engine, nid).validation_errors
        assert errors["inputs"].startswith("Cycle detected: "), errors
        assert a in errors["inputs"] and b in errors["inputs"]


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES_DIR.glob("*.json")))
def test_examples_import_export_round_trip(engine, example):
    doc = json.loads((EXAMPLES_DIR / example).read_text())
    with engine.begin() as conn:
        pid = transfer.import_pipeline(conn, doc)
        exported = transfer.export_pipeline(conn, pid)
        pid2 = transfer.import_pipeline(conn, exported)
        again = transfer.export_pipeline(conn, pid2)
    assert len(exported["nodes"]) == len(doc["nodes"])
    assert [n["title"] for n in again["nodes"]] == [n["title"] for n in doc["nodes"]]
    # References follow the fresh ids.
    ids = {n["id"] for n in exported["nodes"]}
    for n in exported["nodes"]:
        for v in n["inputs"].values():
            for ref in v if isinstance(v, list) else [v]:
                assert ref in ids
    with engine.connect() as conn:
        invalid = conn.execute(
            sa.text("SELECT title FROM video_production_nodes WHERE NOT is_valid")
        ).scalars().all()
    expected_invalid = {"text_assets.json": ["Voiceover missing its provider"] * 2}
    assert sorted(invalid) == expected_invalid.get(example, [])


@pytest.mark.parametrize(
    "doc, message",
    [
        ([], "object with a string 'title'"),
        ({"title": "x", "nodes": {}}, "'nodes' must be a list"),
        ({"title": "x", "nodes": [{"title": "no type"}]}, "node 0 has no 'type'"),
        ({"title": "x", "nodes": [{"id": "a", "type": "asset"}, {"id": "a", "type": "asset"}]},
         "unique"),
    ],
)
def test_import_rejects_bad_documents_without_writing(engine, doc, message):
    with pytest.raises(transfer.DocumentError, match=message), engine.begin() as conn:
        transfer.import_pipeline(conn, doc)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM video_production_pipelines")).scalar()
    assert count == 0
