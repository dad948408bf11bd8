"""Issue 10.3: compose-video on real FFmpeg — geometry checked by sampling pixels."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.media import ffmpeg_exe
from lambdas.video_composer.handler import lambda_handler
from tests.lambdas.conftest import Clips, function_event, output_path, read_callback
from tests.lambdas.media_checks import audio_level, frame_at, streams

pytestmark = pytest.mark.usefixtures("work_root")


def _clip(out: Path, color: str, size: str, seconds: float, tone: int | None) -> Path:
    argv = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
            f"color=c={color}:size={size}:rate=15"]
    if tone:
        argv += ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=44100"]
    argv += ["-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    argv += ["-c:a", "aac"] if tone else []
    subprocess.run([*argv, str(out)], check=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("compose")
    return {
        "red_short": _clip(folder / "red_short.mp4", "red", "320x240", 0.5, 220),
        "red_long": _clip(folder / "red_long.mp4", "red", "320x240", 2.0, 220),
        "blue": _clip(folder / "blue.mp4", "blue", "160x120", 1.0, 880),
        "blue_silent": _clip(folder / "blue_silent.mp4", "blue", "160x120", 1.0, None),
    }


def _compose(tmp_path: Path, bg: Path, ov: Path, **config: Any) -> tuple[dict[str, Any], Path]:
    event = function_event(tmp_path, "compose-video", background_uri=bg, overlay_uri=ov,
                           config=config)
    body = lambda_handler(event, None)
    assert read_callback(event) == body
    return body, output_path(event)


def _is(pixel: tuple[int, ...], color: str) -> bool:
    r, g, b = pixel[:3]
    return {"red": r > 180 and g < 70 and b < 70, "blue": b > 180 and r < 70 and g < 70}[color]


def test_rounded_overlay_bottom_right(tmp_path: Path, media: dict[str, Path]) -> None:
    body, out = _compose(tmp_path, media["red_long"], media["blue"], rounded=True, scale=0.5,
                         radius=30)
    result = body["result"]
    assert (result["width"], result["height"]) == (320, 240)  # the background's size
    assert result["duration"] == pytest.approx(1.0, abs=0.07)  # the overlay's length
    assert result["overlay_box"] == [160, 120, 160, 120]
    frame = frame_at(out, 0.5)
    assert _is(frame.getpixel((162, 122)), "red")  # the corner is cut: background shows
    assert _is(frame.getpixel((240, 180)), "blue")  # the overlay's middle
    assert _is(frame.getpixel((164, 180)), "blue")  # its left edge, away from the corners
    assert _is(frame.getpixel((100, 60)), "red")  # outside the overlay
    assert streams(out) == ["video", "audio"]


def test_square_corners_position_offsets_and_opacity(tmp_path: Path,
                                                     media: dict[str, Path]) -> None:
    _, out = _compose(tmp_path / "a", media["red_long"], media["blue"], rounded=False,
                      scale=0.5)
    assert _is(frame_at(out, 0.5).getpixel((162, 122)), "blue")
    body, out = _compose(tmp_path / "b", media["red_long"], media["blue"], rounded=False,
                         scale=0.25, position="top-left", offsetX=10, offsetY=20)
    assert body["result"]["overlay_box"] == [10, 20, 80, 60]
    frame = frame_at(out, 0.5)
    assert _is(frame.getpixel((12, 22)), "blue") and _is(frame.getpixel((8, 22)), "red")
    assert _is(frame.getpixel((88, 78)), "blue") and _is(frame.getpixel((92, 78)), "red")
    body, out = _compose(tmp_path / "c", media["red_long"], media["blue"], rounded=False,
                         scale=0.5, position="center", opacity=0.5)
    r, _, b = frame_at(out, 0.5).getpixel((160, 120))[:3]
    assert 60 < r < 200 and 60 < b < 200  # half blue over red
    body, out = _compose(tmp_path / "d", media["red_long"], media["blue"], rounded=True,
                         scale=0.5, position="top-right", border=4, borderColor="white")
    assert body["result"]["overlay_box"] == [152, 0, 168, 128]
    assert min(frame_at(out, 0.5).getpixel((230, 1))[:3]) > 180  # the white border


def test_crop_applies_to_the_overlay_first(tmp_path: Path, media: dict[str, Path]) -> None:
    body, _ = _compose(tmp_path, media["red_long"], media["blue"], rounded=False, scale=0.5,
                       cropLeft=10, cropTop=10, cropWidth=80, cropHeight=40)
    assert body["result"]["overlay_box"] == [160, 160, 160, 80]  # 2:1 after the crop


def test_short_background_holds_or_loops_and_narration_is_never_cut(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    for fit in ("hold", "loop"):
        body, out = _compose(tmp_path / fit, media["red_short"], media["blue"], rounded=True,
                             backgroundFit=fit)
        assert body["result"]["duration"] == pytest.approx(1.0, abs=0.07), fit
        assert _is(frame_at(out, 0.9).getpixel((20, 20)), "red")
        assert audio_level(out, 0.6, 0.9) > 0.03  # the overlay's audio plays to the end


def test_audio_rule(tmp_path: Path, media: dict[str, Path]) -> None:
    _, out = _compose(tmp_path / "mix", media["red_short"], media["blue"], rounded=False,
                      audio="mix")
    mixed_start, mixed_end = audio_level(out, 0.1, 0.4), audio_level(out, 0.6, 0.9)
    assert mixed_start > mixed_end * 1.15  # two tones under the first half, then one
    _, out = _compose(tmp_path / "bg", media["red_long"], media["blue_silent"], rounded=False)
    assert streams(out) == ["video", "audio"]  # the background's, as the overlay has none


@pytest.mark.parametrize(("config", "message"), [
    ({"cropLeft": 100, "cropWidth": 100}, "lies outside the overlay, which is 160x120"),
    ({"position": "middle"}, "'position' must be one of"),
    ({"rounded": "yes"}, "'rounded' must be true or false"),
    ({"scale": 2}, "'scale' must be between"),
    ({"backgroundFit": "stretch"}, "'backgroundFit' must be one of hold, loop"),
])
def test_bad_config_calls_back_clearly(tmp_path: Path, media: dict[str, Path],
                                       config: dict[str, Any], message: str) -> None:
    body, _ = _compose(tmp_path, media["red_long"], media["blue"], **config)
    assert body["error_type"] == "InvalidInput" and message in body["error"], body


def test_corrupt_overlay(tmp_path: Path, media: dict[str, Path], clips: Clips) -> None:
    body, _ = _compose(tmp_path, media["red_long"], clips.corrupt, rounded=True)
    assert body["error_type"] == "InvalidInput" and "overlay" in body["error"]
