"""Issue 10: a whole production — code screen, narration mixed, picture-in-picture, crossfade."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dagster import AssetKey

from lambdas.common.media import ffmpeg_exe, probe
from tests.e2e.conftest import graph_defs
from video_dagster.assets.executors import executor_for
from video_dagster.cli.demo import make_clips
from video_dagster.db import editing, transfer
from video_dagster.domain.keys import asset_key_path

SCENE = {"language": "python", "theme": "monokai", "title": "hello.py",
         "code": "def hello():\n    return 'world'\n", "highlights": [2]}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    clips = make_clips(folder, seconds=1.0)
    voice = folder / "voice.m4a"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=300:sample_rate=44100", "-t", "0.6", "-c:a", "aac",
                    str(voice)], check=True, timeout=60)
    return {**clips, "library/voice.m4a": voice}


def _run(engine, resources, instance, store, media, doc):
    for key, path in media.items():
        store.put_file(key, path)
    with engine.begin() as conn:
        pid = transfer.import_pipeline(conn, doc)
    with engine.connect() as conn:
        nodes = {n.title: n for n in editing.list_nodes(conn, pid)}
    keys = [AssetKey(asset_key_path(pid, n.id, n.type)) for n in nodes.values()]
    job = graph_defs(engine, resources).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=keys, instance=instance, raise_on_error=False)
    with engine.connect() as conn:
        return result, {n.title: n for n in editing.list_nodes(conn, pid)}


def _asset(node_id: str, asset: dict) -> dict:
    return {"id": node_id, "title": node_id, "type": "asset", "asset": asset}


def test_a_production_with_every_media_node(engine, resources, instance, store, media,
                                            tmp_path):
    doc = {"title": "lesson", "nodes": [
        _asset("clip", {"type": "video", "s3Key": "library/demo/clip_a.mp4"}),
        _asset("mute", {"type": "video", "s3Key": "library/demo/clip_c.mp4"}),
        _asset("voice", {"type": "audio", "s3Key": "library/voice.m4a"}),
        _asset("scene", {"content": SCENE}),
        {"id": "code", "title": "code", "type": "render-code", "inputs": {"config": "scene"},
         "config": {"provider": "remotion", "duration": 1.5, "width": 320, "height": 180,
                    "fps": 15}},
        {"id": "mixed", "title": "mixed", "type": "mix-audio",
         "inputs": {"video": "mute", "audio": "voice"},
         "config": {"provider": "ffmpeg", "fadeOut": 0.2}},
        {"id": "pip", "title": "pip", "type": "compose-video",
         "inputs": {"background": "code", "overlay": "mixed"},
         "config": {"provider": "ffmpeg", "rounded": True, "scale": 0.4}},
        {"id": "final", "title": "final", "type": "merge-videos",
         "inputs": {"segments": ["pip", "clip"]},
         "config": {"provider": "ffmpeg", "transition": "crossfade",
                    "transitionDuration": 0.3}},
    ]}
    result, nodes = _run(engine, resources, instance, store, media, doc)
    assert result.success, {t: n.metadata.get("error") for t, n in nodes.items()}
    assert all(n.status == "completed" for n in nodes.values())
    code, mixed, pip, final = (nodes[t].output for t in ("code", "mixed", "pip", "final"))
    assert code["renderer"] == "native" and "no Remotion deployment" in code["note"]
    assert (code["width"], code["height"], code["duration"]) == (320, 180, pytest.approx(1.5,
                                                                                         abs=0.1))
    assert mixed["duration"] == pytest.approx(1.0, abs=0.1) and mixed["has_audio"]
    assert (pip["width"], pip["height"]) == (320, 180)  # the background's size
    assert pip["duration"] == pytest.approx(1.0, abs=0.1)  # the overlay's (narration) length
    assert final["duration"] == pytest.approx(pip["duration"] + 1.0 - 0.3, abs=0.1)
    local = tmp_path / "final.mp4"
    store.get_to_file(final["s3Key"], local)
    info = probe(local)
    assert info.video is not None and info.audio is not None
    for title in ("code", "mixed", "pip", "final"):
        cost = nodes[title].metadata.get("cost")
        assert isinstance(cost, float) and 0 < cost < 0.01, (title, nodes[title].metadata)


def test_bad_config_and_inputs_fail_before_any_lambda(engine, resources, instance, store,
                                                      media):
    doc = {"title": "bad", "nodes": [
        _asset("clip", {"type": "video", "s3Key": "library/demo/clip_a.mp4"}),
        _asset("voice", {"type": "audio", "s3Key": "library/voice.m4a"}),
        _asset("note", {"content": "plain text"}),
        {"id": "mix", "title": "mix", "type": "mix-audio",
         "inputs": {"video": "clip", "audio": "voice"},
         "config": {"provider": "ffmpeg", "fadeIn": -1, "mode": "blend"}},
        {"id": "swap", "title": "swap", "type": "mix-audio",
         "inputs": {"video": "voice", "audio": "clip"}, "config": {"provider": "ffmpeg"}},
        {"id": "code", "title": "code", "type": "render-code", "inputs": {"config": "note"},
         "config": {"provider": "native"}},
    ]}
    result, nodes = _run(engine, resources, instance, store, media, doc)
    assert not result.success
    errors = {t: nodes[t].metadata.get("error", "") for t in ("mix", "swap", "code")}
    assert "config.fadeIn" in errors["mix"] and "config.mode" in errors["mix"]
    assert "produced audio, expected video" in errors["swap"]
    assert "must be a json asset" in errors["code"]


def test_estimates_and_deadlines_come_from_the_function_table() -> None:
    from video_dagster.resources.lambda_functions import FUNCTIONS

    for node_type, name in (("mix-audio", "audio_mixer"), ("compose-video", "video_composer"),
                            ("render-code", "code_renderer"), ("merge-videos", "video_merger")):
        executor = executor_for(node_type)
        assert executor is not None and executor.timeout == FUNCTIONS[name].deadline
        estimate = executor.estimate({}, [{"duration": 60.0}])  # type: ignore[attr-defined]
        assert 0 < estimate < 0.05
    compose = executor_for("compose-video")
    assert compose.estimate({}, [{"duration": 120}]) > compose.estimate({}, [{"duration": 10}])
