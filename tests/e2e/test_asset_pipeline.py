"""Materialize example pipelines of asset nodes through the real asset graph."""

from __future__ import annotations

import json

import sqlalchemy as sa
from dagster import AssetKey

from tests.e2e.conftest import graph_defs
from video_dagster.cli import EXAMPLES_DIR
from video_dagster.db import editing, transfer
from video_dagster.domain.keys import asset_key_path, node_id_of_key


def _import(engine, name):
    with engine.begin() as conn:
        return transfer.import_pipeline(conn, json.loads((EXAMPLES_DIR / name).read_text()))


def _nodes(engine, pid):
    with engine.connect() as conn:
        return {n.title: n for n in editing.list_nodes(conn, pid)}


def _run(engine, resources, instance, pid, titles, tags=None):
    nodes = _nodes(engine, pid)
    keys = [AssetKey(asset_key_path(pid, nodes[t].id, nodes[t].type)) for t in titles]
    job = graph_defs(engine, resources).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(asset_selection=keys, instance=instance,
                                  raise_on_error=False, tags=tags or {})


def test_asset_nodes_complete_with_stored_content(engine, resources, instance, store):
    pid = _import(engine, "text_assets.json")
    result = _run(engine, resources, instance, pid, ["Intro script", "Outro script"])
    assert result.success
    nodes = _nodes(engine, pid)
    intro, outro = nodes["Intro script"], nodes["Outro script"]
    assert intro.status == outro.status == "completed"
    assert store.get_bytes(intro.output["s3Key"]) == b"Welcome to the show."
    assert intro.output["s3Key"] == f"pipelines/{pid}/nodes/{intro.id}/content.txt"
    assert json.loads(store.get_bytes(outro.output["s3Key"]))["lines"][0] == "Thanks for watching"
    assert intro.metadata["dagster_run_id"] == result.run_id
    mats = {
        node_id_of_key(m.asset_key.path): m.metadata
        for m in (ev.event_specific_data.materialization
                  for ev in result.get_asset_materialization_events())
    }
    assert mats[intro.id]["size_bytes"].value == len(b"Welcome to the show.")
    assert mats[intro.id]["dagster/uri"].value == store.uri(intro.output["s3Key"])


def test_invalid_node_fails_run_and_is_left_as_it_was(engine, resources, instance):
    pid = _import(engine, "text_assets.json")
    result = _run(engine, resources, instance, pid, ["Voiceover missing its provider"])
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "is not ready" in failure.message and "provider" in failure.message
    node = _nodes(engine, pid)["Voiceover missing its provider"]
    assert node.status == "pending" and node.metadata is None


def test_missing_source_fails_node_with_reason(engine, resources, instance):
    with engine.begin() as conn:
        pid = editing.create_pipeline(conn, "Missing source")
        editing.create_node(conn, pid, "Ghost clip", "asset",
                            asset={"type": "video", "s3Key": "library/nope.mp4"})
    result = _run(engine, resources, instance, pid, ["Ghost clip"])
    assert not result.success
    node = _nodes(engine, pid)["Ghost clip"]
    assert node.status == "failed"
    assert "library/nope.mp4 does not exist" in node.metadata["error"]


def test_type_without_executor_fails_clearly(engine, resources, instance, monkeypatch):
    from video_dagster.assets import executors

    # Every type has an executor today: unregister one, as a new type would be before its lands.
    monkeypatch.delitem(executors.REGISTRY, "generate-voiceover")
    with engine.begin() as conn:
        pid = editing.create_pipeline(conn, "No executor yet")
        editing.create_node(conn, pid, "Narration", "generate-voiceover",
                            config={"provider": "elevenlabs", "text": "hello"})
    result = _run(engine, resources, instance, pid, ["Narration"])
    assert not result.success
    node = _nodes(engine, pid)["Narration"]
    assert node.status == "failed"
    assert node.metadata["error"] == "no executor for generate-voiceover"


def test_completed_node_redone_only_when_forced(engine, resources, instance):
    pid = _import(engine, "text_assets.json")
    _run(engine, resources, instance, pid, ["Intro script"])
    first = _nodes(engine, pid)["Intro script"].metadata["process_uuid"]
    _run(engine, resources, instance, pid, ["Intro script"], tags={"video/trigger": "auto"})
    assert _nodes(engine, pid)["Intro script"].metadata["process_uuid"] == first
    _run(engine, resources, instance, pid, ["Intro script"])  # a manual run re-renders
    again = _nodes(engine, pid)["Intro script"]
    assert again.status == "completed" and again.metadata["process_uuid"] != first
    with engine.connect() as conn:
        starts = conn.execute(sa.text(
            "SELECT count(*) FROM video_production_node_events WHERE node_id = :id "
            "AND event = 'started' AND applied"), {"id": again.id}).scalar()
    assert starts == 2
