"""What a node's asset tells an operator: checks (valid, output) and the reason of a failure."""

from __future__ import annotations

import json
import re

import httpx
from dagster import AssetKey, build_sensor_context

from tests.e2e.test_asset_pipeline import _import, _nodes, _run
from video_dagster.assets.translator import build_node_assets
from video_dagster.cli.demo import make_clips
from video_dagster.db import editing, transfer
from video_dagster.db.snapshot import read_graph_snapshot
from video_dagster.domain.keys import asset_key_path
from video_dagster.preview import PREVIEW_URL_ENV, serve
from video_dagster.sensors.checks import build_node_checks_sensor


def _key(pid: str, node) -> AssetKey:
    return AssetKey(asset_key_path(pid, node.id, node.type))


def _checks(result) -> dict[tuple[str, str], bool]:
    return {(e.asset_key.path[-1], e.check_name): e.passed
            for e in result.get_asset_check_evaluations()}


def test_completed_nodes_pass_both_checks(engine, resources, instance, store, tmp_path,
                                          monkeypatch):
    server = serve(store)  # what `video-dagster dev` runs beside the UI
    monkeypatch.setenv(PREVIEW_URL_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    clips = make_clips(tmp_path, seconds=1.0)
    for key, path in clips.items():
        store.put_file(key, path, content_type="video/mp4")
    doc = {"title": "Checks", "nodes": [
        {"id": "v", "title": "Clip", "type": "asset",
         "asset": {"type": "video", "s3Key": "library/demo/clip_a.mp4"}},
        {"id": "t", "title": "Note", "type": "asset", "asset": {"type": "text", "content": "hi"}},
    ]}
    with engine.begin() as conn:
        pid = transfer.import_pipeline(conn, doc)
    result = _run(engine, resources, instance, pid, ["Clip", "Note"])
    assert result.success
    nodes = _nodes(engine, pid)
    checks = _checks(result)
    for title in ("Clip", "Note"):
        name = _key(pid, nodes[title]).path[-1]
        assert checks[(name, "valid")] and checks[(name, "output")], (title, checks)
    clip = next(e for e in result.get_asset_check_evaluations()
                if e.asset_key == _key(pid, nodes["Clip"]) and e.check_name == "output")
    assert clip.metadata["probed_duration_seconds"].value > 0.5
    assert "video" in clip.metadata["streams"].value
    mats = {e.asset_key: e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    meta = mats[_key(pid, nodes["Clip"])]
    assert meta["poster"].value.startswith("![Clip](data:image/jpeg;base64,/9j/")  # a JPEG
    # The totals at that moment (the other node may still be running in parallel).
    assert re.match(r"^[12]/2 completed, \d running, 0 failed$", meta["pipeline_progress"].value)
    answer = httpx.get(meta["preview"].value, headers={"Range": "bytes=0-"})
    assert answer.status_code == 206 and answer.headers["content-type"] == "video/mp4"
    assert answer.content[4:8] == b"ftyp" and len(answer.content) == clips[
        "library/demo/clip_a.mp4"].stat().st_size
    assert "poster" not in mats[_key(pid, nodes["Note"])]  # text has no frame
    server.shutdown()


def test_output_check_fails_when_the_object_is_gone(engine, resources, instance, store):
    pid = _import(engine, "text_assets.json")
    assert _run(engine, resources, instance, pid, ["Intro script"]).success
    intro = _nodes(engine, pid)["Intro script"]
    store.delete(intro.output["s3Key"])
    # Not forced: the completed node is not redone, and the check says its output is missing.
    result = _run(engine, resources, instance, pid, ["Intro script"],
                  tags={"video/force": "false"})
    assert _checks(result)[(_key(pid, intro).path[-1], "output")] is False


def test_a_failed_node_shows_its_reason_on_the_asset(engine, resources, instance):
    with engine.begin() as conn:
        pid = editing.create_pipeline(conn, "Missing source")
        editing.create_node(conn, pid, "Ghost clip", "asset",
                            asset={"type": "video", "s3Key": "library/nope.mp4"})
    assert not _run(engine, resources, instance, pid, ["Ghost clip"]).success
    key = _key(pid, _nodes(engine, pid)["Ghost clip"])
    (record,) = instance.fetch_observations(key, limit=10).records
    meta = record.asset_observation.metadata
    assert meta["status"].value == "failed"
    assert "library/nope.mp4 does not exist" in meta["error"].value
    assert "Ghost clip failed" in meta["reason"].value


def test_invalid_nodes_fail_their_valid_check_without_running(engine, resources, instance):
    pid = _import(engine, "text_assets.json")
    keys = frozenset(a.key for a in build_node_assets(read_graph_snapshot(engine)))
    sensor = build_node_checks_sensor(keys)

    def tick(cursor=None):
        return sensor(build_sensor_context(instance=instance, resources=resources, cursor=cursor))

    first = tick()
    verdicts = {e.asset_key.path[-1].split("_")[0]: e.passed for e in first.asset_events}
    assert verdicts == {"asset": True, "voiceover": False}
    bad = next(e for e in first.asset_events if not e.passed)
    assert bad.metadata["error: provider"].value == "is required for generate-voiceover nodes"
    second = tick(first.cursor)
    assert not second.asset_events and second.cursor == first.cursor  # reported once
    broken = _nodes(engine, pid)["Voiceover missing its provider"]
    with engine.begin() as conn:  # the editor fixes the node
        editing.update_node(conn, broken.id, config={"provider": "elevenlabs"})
    third = tick(second.cursor)
    fixed = {e.asset_key: e.passed for e in third.asset_events}
    assert fixed[_key(pid, broken)] is True
    assert json.loads(third.cursor)[pid] != json.loads(first.cursor)[pid]
    # A pipeline whose nodes the loaded graph does not have yet waits for the reload.
    other = _import(engine, "merge_clips.json")
    fourth = tick(third.cursor)
    assert not fourth.asset_events and other not in json.loads(fourth.cursor)
