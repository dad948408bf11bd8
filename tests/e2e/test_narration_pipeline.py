"""script → voiceover (ElevenLabs) → talking head (HeyGen v3) through Dagster, on the emulators."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from dagster import AssetKey

from tests.e2e.conftest import graph_defs
from video_dagster.assets.executors.provider_common import probe
from video_dagster.db import editing, transfer
from video_dagster.domain import costs
from video_dagster.domain.keys import asset_key_path
from video_dagster.emulators import server
from video_dagster.resources.providers.resource import ProvidersResource

SCRIPT = "Welcome to the show. Today we look at pipelines. Thanks for watching!"
KEY = "emulator-key"


@pytest.fixture
def emus():
    with server.running(KEY) as running:
        yield running


def providers(emus, **overrides) -> ProvidersResource:
    """Emulators addressed like real endpoints (explicit key and URL), with fast polling."""
    settings = dict(elevenlabs_api_key=KEY, elevenlabs_base_url=emus.elevenlabs_url,
                    heygen_api_key=KEY, heygen_base_url=emus.heygen_url, emulate="never",
                    heygen_poll_interval=0.05, heygen_poll_max_interval=0.2,
                    retry_base_delay=0.01, retry_max_delay=0.2, retry_attempts=4, timeout=10.0)
    return ProvidersResource(**{**settings, **overrides})


def narration_doc(script: str = SCRIPT, **voice_config) -> dict:
    return {"title": "narration", "nodes": [
        {"id": "s", "title": "Script", "type": "asset",
         "asset": {"type": "text", "content": script}},
        {"id": "v", "title": "Voice", "type": "generate-voiceover", "inputs": {"script": "s"},
         "config": {"provider": "elevenlabs", **voice_config}},
        {"id": "h", "title": "Head", "type": "talking-head", "inputs": {"audio": ["v"]},
         "config": {"provider": "heygen", "avatarId": "Monica_inSleeveless_20220819",
                    "width": 1280, "height": 720}},
    ]}


def run(engine, resources, instance, doc=None, pid=None, tags=None):
    if pid is None:
        with engine.begin() as conn:
            pid = transfer.import_pipeline(conn, doc or narration_doc())
    with engine.connect() as conn:
        nodes = editing.list_nodes(conn, pid)
    keys = [AssetKey(asset_key_path(pid, n.id)) for n in nodes]
    job = graph_defs(engine, resources).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=keys, instance=instance,
                                    raise_on_error=False, tags=tags)
    return pid, result


def nodes(engine, pid):
    with engine.connect() as conn:
        return {n.title: n for n in editing.list_nodes(conn, pid)}


def pipeline_meta(engine, pid):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT metadata FROM video_production_pipelines "
                                    "WHERE id = :id"), {"id": pid}).scalar_one()


def test_script_to_talking_head(engine, resources, instance, store, emus, tmp_path):
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance)
    got = nodes(engine, pid)
    voice, head = got["Voice"], got["Head"]
    assert result.success, (voice.metadata, head.metadata)
    assert voice.output["type"] == "audio" and voice.output["characters"] == len(SCRIPT)
    store.get_to_file(voice.output["s3Key"], tmp_path / "v.mp3")
    audio = probe(tmp_path / "v.mp3")
    assert audio.duration > 0 and voice.output["duration"] == pytest.approx(audio.duration)
    assert head.output["s3Key"] == f"pipelines/{pid}/nodes/{head.id}/talking_head.mp4"
    store.get_to_file(head.output["s3Key"], tmp_path / "h.mp4")
    video = probe(tmp_path / "h.mp4")
    assert (video.width, video.height) == (1280, 720) == (head.output["width"],
                                                          head.output["height"])
    assert video.audio_duration == pytest.approx(audio.duration, abs=0.2)
    # Costs: from the character-cost header and the billed seconds, rolled up.
    assert voice.metadata["costDetail"]["quantity"] == len(SCRIPT)
    assert voice.metadata["cost"] == costs.elevenlabs_cost(len(SCRIPT)).amount
    assert head.metadata["costDetail"]["unit"] == "second"
    assert head.metadata["cost"] == pytest.approx(costs.heygen_cost(video.duration).amount,
                                                  abs=0.001)
    meta = pipeline_meta(engine, pid)
    assert float(meta["totalCost"]) == pytest.approx(voice.metadata["cost"]
                                                     + head.metadata["cost"])
    assert float(meta["estimatedTotalCost"]) > 0
    assert head.metadata["job_id"] == head.metadata["provider_job"]["id"]
    assert voice.metadata["request_ids"]
    assert emus.heygen.submits == 1 and emus.elevenlabs.counters["tts_billed"] == 1


def test_long_script_is_split_and_stitched(engine, resources, instance, store, emus,
                                           monkeypatch, tmp_path):
    from video_dagster.resources.providers import elevenlabs

    monkeypatch.setitem(elevenlabs.CHARACTER_LIMITS, "eleven_multilingual_v2", 30)
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance)
    voice = nodes(engine, pid)["Voice"]
    assert result.success, voice.metadata
    calls = emus.elevenlabs.calls
    assert len(calls) == 3 and all(c["chars"] <= 30 for c in calls)
    assert calls[0]["previous_request_ids"] is None
    assert calls[2]["previous_request_ids"] == [calls[0]["request_id"], calls[1]["request_id"]]
    store.get_to_file(voice.output["s3Key"], tmp_path / "v.mp3")
    assert probe(tmp_path / "v.mp3").duration == pytest.approx(
        sum(max(0.5, c["chars"] * 0.06) for c in calls), abs=0.2)
