"""Adversarial node config reaching the media Lambdas: bounded work, one short clear error."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lambdas.audio_mixer.handler import lambda_handler as mix_handler
from lambdas.code_renderer import core, render
from lambdas.code_renderer.handler import lambda_handler as render_handler
from lambdas.common.media import ffmpeg_exe
from lambdas.video_composer.handler import lambda_handler as compose_handler
from lambdas.video_merger.handler import lambda_handler as merge_handler
from tests.lambdas.conftest import Tones, function_event, read_callback
from video_dagster.assets.callbacks import MAX_CALLBACK_BYTES

pytestmark = pytest.mark.usefixtures("work_root")


class Hung(Exception):
    """The guarded call ran far past anything reasonable."""


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """Turn a hang into a failure (the fixed code takes milliseconds, the old one forever)."""
    def fire(*_: Any) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _render(tmp_path: Path, scene: dict[str, Any], **config: Any) -> dict[str, Any]:
    event = function_event(tmp_path, "render-code", scene=scene,
                           config={"duration": 0.5, "fps": 2, "typing": "instant", **config})
    with hang_guard(30):
        body = render_handler(event, None)
    assert read_callback(event) == body
    return body


@pytest.mark.parametrize(("title", "size"), [
    ("hello.py", {"width": 320, "height": 2160}),  # no room for any title: looped forever
    ("t" * 100_000, {"width": 320, "height": 180}),  # quadratic trimming
])
def test_a_title_that_cannot_fit_does_not_hang(tmp_path: Path, title: str,
                                               size: dict[str, int]) -> None:
    body = _render(tmp_path, {"code": "print(1)", "title": title}, **size)
    assert "result" in body, body
    assert (body["result"]["width"], body["result"]["height"]) == (size["width"], size["height"])


def test_repeated_highlight_ranges_cost_one_pass() -> None:
    code = "x\n" * 9_999 + "x"
    with hang_guard(10):
        scene = core.parse_scene({"code": code, "highlights": [[1, 10_000]] * 80_000})
    assert scene.highlights == frozenset(range(1, 10_001))


def test_infinite_highlight_is_invalid_input() -> None:
    with pytest.raises(core.InvalidInput, match="is not a line or a range"):
        core.parse_scene({"code": "x", "highlights": [float("inf")]})


@pytest.fixture(scope="module")
def pip_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("adversary_pip")
    return {"bg": _color(folder / "bg.mp4", "red", "320x240"),
            "ov": _color(folder / "ov.mp4", "blue", "160x120")}


def _color(out: Path, color: str, size: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"color=c={color}:size={size}:rate=10", "-t", "0.5", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(out)], check=True, timeout=60)
    return out


@pytest.mark.parametrize("config", [
    {"rounded": True, "border": 1000},  # a 2096x2072 pad and an 8384x8288 mask
    {"rounded": True, "cropWidth": 2, "cropHeight": 120, "scale": 1},  # 320x19200
    {"rounded": False, "cropWidth": 1, "cropHeight": 120, "scale": 0.5},  # 160x19200, no mask
])
def test_an_overlay_larger_than_the_background_is_refused_before_drawing(
        tmp_path: Path, pip_media: dict[str, Path], config: dict[str, Any]) -> None:
    event = function_event(tmp_path, "compose-video", background_uri=pip_media["bg"],
                           overlay_uri=pip_media["ov"], config=config)
    body = compose_handler(event, None)
    assert body.get("error_type") == "InvalidInput", body
    assert "larger than the 320x240 background" in body["error"]
    assert read_callback(event) == body


def test_an_error_quoting_a_huge_value_still_fits_in_a_callback(tmp_path: Path) -> None:
    body = _render(tmp_path, {"code": "x", "language": "x" * 300_000})
    assert body["error_type"] == "InvalidInput" and body["error"].startswith("unknown language")
    assert len(json.dumps(body).encode()) < MAX_CALLBACK_BYTES


def test_a_video_larger_than_8k_is_refused_before_decoding(tmp_path: Path,
                                                            pip_media: dict[str, Path]) -> None:
    # A few hundred bytes on disk; declared 8208 px wide. Compose, merge: refused on probe.
    wide = _color(tmp_path / "wide.mp4", "green", "8208x16")
    event = function_event(tmp_path / "c", "compose-video", background_uri=wide,
                           overlay_uri=pip_media["ov"], config={"rounded": True, "scale": 1})
    body = compose_handler(event, None)
    assert body.get("error_type") == "InvalidInput", body
    assert "is 8208x16, larger than the supported 7680x4320" in body["error"]
    event = function_event(tmp_path / "m", "merge-videos",
                           input_videos=[f"file://{pip_media['ov']}", f"file://{wide}"],
                           transition="fade", transition_duration=0.1)
    body = merge_handler(event, None)
    assert body.get("error_type") == "InvalidInput" and "8208x16" in body["error"], body


def test_old_mac_line_ends_count_as_lines_for_highlights() -> None:
    scene = core.parse_scene({"code": "a = 1\rb = 2\rc = 3", "highlights": [3],
                              "language": "python"})
    lexer, style = render.lexer_and_style(scene)
    assert scene.highlights == {3} and len(render.colored_lines(scene, lexer, style)) == 3


def test_a_playlist_in_the_store_cannot_pull_in_a_file_from_outside(
        tmp_path: Path, pip_media: dict[str, Path]) -> None:
    # Local mode: FFmpeg opens the stored path itself; an HLS playlist there names any file.
    outside = tmp_path / "outside" / "secret.ts"
    outside.parent.mkdir()
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i",
                    str(pip_media["ov"]), "-c", "copy", "-f", "mpegts", str(outside)],
                   check=True, timeout=60)
    playlist = tmp_path / "store" / "bucket" / "library" / "clip.m3u8"
    playlist.parent.mkdir(parents=True)
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.5,\n"
                        f"file://{outside}\n#EXT-X-ENDLIST\n")
    event = function_event(tmp_path, "merge-videos",
                           input_videos=[f"file://{pip_media['bg']}", f"file://{playlist}"])
    body = merge_handler(event, None)
    assert body.get("error_type") == "InvalidInput", body
    assert "hls playlist or list naming other files" in body["error"]
    event = function_event(tmp_path / "c", "compose-video", background_uri=pip_media["bg"],
                           overlay_uri=playlist, config={"rounded": False})
    assert "hls playlist" in compose_handler(event, None).get("error", "")


@pytest.mark.parametrize("config", [
    {"fadeIn": 1e-7, "fadeOut": 0.00001},  # FFmpeg read "1e-07" as no duration at all
    {"fadeIn": 0.25, "audioVolume": 1e-7, "videoVolume": 1e-7, "mode": "mix"},
])
def test_tiny_fades_and_volumes_mix(tmp_path: Path, pip_media: dict[str, Path],
                                    tones: Tones, config: dict[str, Any]) -> None:
    event = function_event(tmp_path, "mix-audio", video_uri=pip_media["bg"],
                           audio_uri=tones.short, config=config)
    body = mix_handler(event, None)
    assert "result" in body, body


def test_half_a_second_at_one_fps_is_still_a_video(tmp_path: Path) -> None:
    body = _render(tmp_path, {"code": "print(1)"}, duration=0.5, fps=1, width=320, height=180)
    result = body["result"]
    assert (result["type"], result["frames"], result["width"]) == ("video", 1, 320), result
