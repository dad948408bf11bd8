"""Issue 10.2: mix-audio on real FFmpeg — length kept, video copied, every option audible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambdas.audio_mixer.handler import lambda_handler
from lambdas.common.media import probe
from tests.lambdas.conftest import Clips, Tones, function_event, output_path, read_callback
from tests.lambdas.media_checks import audio_level, streams

pytestmark = pytest.mark.usefixtures("work_root")
SILENT = 1e-4


def _mix(tmp_path: Path, video: Path, audio: Path, **config: Any) -> tuple[dict[str, Any], Path]:
    event = function_event(tmp_path, "mix-audio", video_uri=video, audio_uri=audio,
                           config=config)
    body = lambda_handler(event, None)
    assert read_callback(event) == body
    return body, output_path(event)


def test_short_audio_is_padded_to_the_video_and_the_video_is_copied(
    tmp_path: Path, clips: Clips, tones: Tones
) -> None:
    body, out = _mix(tmp_path, clips.a, tones.short)
    result = body["result"]
    assert result["duration"] == pytest.approx(1.0, abs=0.05)
    assert streams(out) == ["video", "audio"]
    assert (result["video_codec"], result["audio_codec"], result["width"]) == ("h264", "aac", 160)
    assert result["mode"] == "replace" and result["type"] == "video"
    assert audio_level(out, 0.1, 0.4) > 0.03  # lavfi sine: amplitude 1/8
    assert audio_level(out, 0.6, 0.95) < SILENT  # padded with silence, the 440 Hz track dropped
    source = probe(clips.a).video
    assert source is not None and probe(out).video == source  # copied, not re-encoded


def test_long_audio_is_cut_with_the_fade_out_at_the_new_end(
    tmp_path: Path, clips: Clips, tones: Tones
) -> None:
    body, out = _mix(tmp_path, clips.a, tones.long, fadeIn=0.3, fadeOut=0.4)
    assert body["result"]["duration"] == pytest.approx(1.0, abs=0.05)
    middle = audio_level(out, 0.35, 0.55)
    assert audio_level(out, 0.0, 0.1) < middle / 2  # fading in
    assert audio_level(out, 0.85, 1.0) < middle / 2  # fading out before the cut


def test_volume_mix_and_loudnorm(tmp_path: Path, clips: Clips, tones: Tones) -> None:
    _, out_full = _mix(tmp_path / "full", clips.a, tones.short)
    _, out_half = _mix(tmp_path / "half", clips.a, tones.short, audioVolume=0.5)
    ratio = audio_level(out_half, 0.1, 0.4) / audio_level(out_full, 0.1, 0.4)
    assert ratio == pytest.approx(0.5, abs=0.08)
    mixed, out_mixed = _mix(tmp_path / "mix", clips.a, tones.short, mode="mix", videoVolume=0.8)
    assert mixed["result"]["mixed_video_audio"] is True
    assert audio_level(out_mixed, 0.6, 0.95) > 0.03  # the video's own tone under the padding
    norm, out_norm = _mix(tmp_path / "norm", clips.a, tones.long, loudnorm=-16)
    info = probe(out_norm)
    assert info.audio is not None and info.audio.sample_rate == 48000
    assert norm["result"]["duration"] == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(("audio", "config", "message"), [
    ("silent", {}, "has no audio stream"),
    ("corrupt", {}, "is not a readable media file"),
    ("long", {"fadeIn": 5}, "'fadeIn' (5s) is longer than the video"),
    ("long", {"mode": "blend"}, "'mode' must be one of replace, mix"),
    ("long", {"audioVolume": -1}, "'audioVolume' must be between 0 and 10"),
])
def test_bad_input_ends_in_a_clear_callback(tmp_path: Path, clips: Clips, tones: Tones,
                                            audio: str, config: dict[str, Any],
                                            message: str) -> None:
    source = {"silent": clips.silent, "corrupt": clips.corrupt, "long": tones.long}[audio]
    body, _ = _mix(tmp_path, clips.a, source, **config)
    assert body["error_type"] == "InvalidInput" and message in body["error"], body


def test_missing_input_and_audio_only_video(tmp_path: Path, clips: Clips, tones: Tones) -> None:
    body, _ = _mix(tmp_path, tmp_path / "nope.mp4", tones.short)
    assert body["error_type"] == "InputNotFound"
    body, _ = _mix(tmp_path, tones.short, tones.short)
    assert body["error_type"] == "InvalidInput" and "has no video stream" in body["error"]
