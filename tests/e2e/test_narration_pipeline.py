"""script → voiceover (ElevenLabs) → talking head (HeyGen v3) through Dagster, on the emulators."""

from __future__ import annotations

import pytest

from tests.e2e.narration import SCRIPT, nodes, pipeline_meta, providers, run
from video_dagster.assets.executors.provider_common import probe
from video_dagster.domain import costs


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
