"""The type table: every executable type has an executor (or is listed as still to come),
configs parse into typed models, and every estimator exists."""

from __future__ import annotations

import pytest

from video_dagster.assets import executors
from video_dagster.domain import configs, costs
from video_dagster.domain.nodes import EXECUTABLE_TYPES, NODE_TYPES, parse_config


def test_every_executable_type_has_an_executor_or_is_listed_as_pending():
    missing = {t for t in EXECUTABLE_TYPES if executors.executor_for(t) is None}
    assert missing == set(executors.NOT_YET_EXECUTABLE)
    # A pending type that gains an executor must leave the list (it cannot be in both).
    assert not {t for t in executors.NOT_YET_EXECUTABLE if t in executors.REGISTRY}


def test_legacy_spelling_runs_the_same_executor():
    assert executors.executor_for("talking-head") is executors.executor_for(
        "generate-talking-head")
    assert executors.executor_for("talking-head") is not None


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_each_type_names_a_config_model_kind_and_known_estimator(name):
    spec = NODE_TYPES[name]
    assert issubclass(spec.config_model, configs.NodeConfig)
    assert spec.kind in ("file", "audio", "video", "image", "text")
    assert spec.estimator == "flat" or spec.estimator in costs.ESTIMATORS
    assert spec.pool("x") == ("video_local" if name == "asset" else "video_x")


def test_config_parses_to_typed_model_with_editor_defaults():
    voice = parse_config("generate-voiceover", {"provider": "elevenlabs", "stability": 0.5,
                                                "unknownKey": 1})
    assert isinstance(voice, configs.VoiceoverConfig)
    assert (voice.voice_id, voice.stability, voice.similarity_boost, voice.use_speaker_boost) == (
        "21m00Tcm4TlvDq8ikWAM", 0.5, 0.75, True)
    head = parse_config("talking-head", {"provider": "heygen", "avatarId": "a"})
    assert isinstance(head, configs.TalkingHeadConfig) and (head.width, head.height) == (1280,
                                                                                           720)


def test_bad_config_is_one_readable_error():
    with pytest.raises(configs.ConfigError, match=r"stability: .*less than or equal to 1"):
        parse_config("generate-voiceover", {"provider": "elevenlabs", "stability": 3})
    with pytest.raises(configs.ConfigError, match="avatarId"):
        parse_config("generate-talking-head", {"provider": "heygen"})


def test_estimates_follow_the_price_table():
    text = "x" * 200
    assert costs.estimate("generate-voiceover", {"provider": "elevenlabs", "text": text}) == (
        pytest.approx(200 * costs.PRICES["elevenlabs"]["usd_per_credit"]))
    flash = costs.estimate("generate-voiceover", {"provider": "elevenlabs", "text": text,
                                                  "modelId": "eleven_flash_v2_5"})
    assert flash == pytest.approx(100 * costs.PRICES["elevenlabs"]["usd_per_credit"])
    assert costs.estimate("talking-head", {"provider": "heygen", "avatarId": "a"}) > 0
    assert costs.estimate("no-such-type", {}) == 0.0
    assert costs.estimate("generate-voiceover", "garbage") > 0  # editor defaults apply
    assert costs.PRICES["version"] and costs.PRICES["figures_as_of"]


def test_animation_costs_follow_duration_mapping_model_resolution_and_audio():
    assert costs.nearest_duration(5, costs.VEO_DURATIONS) == 6  # ties go up
    assert costs.nearest_duration(3, costs.VEO_DURATIONS) == 4
    assert costs.nearest_duration(30, costs.VEO_DURATIONS) == 8
    std = costs.estimate("generate-animation", {"provider": "veo3", "duration": 8})
    fast = costs.estimate("generate-animation", {"provider": "veo3", "duration": 8,
                                                 "model": "veo-3.1-fast-generate-001"})
    silent = costs.estimate("generate-animation", {"provider": "veo3", "duration": 8,
                                                   "backend": "vertex", "generateAudio": False})
    big = costs.estimate("generate-animation", {"provider": "veo3", "duration": 8,
                                                "resolution": "4k"})
    assert fast < silent < std < big
    runway = costs.estimate("generate-animation", {"provider": "runway", "duration": 5})
    assert runway == pytest.approx(5 * 12 * 0.01)  # gen4.5: 12 credits/s at $0.01
    assert costs.estimate("generate-animation", {"provider": "stability"}) > 0
