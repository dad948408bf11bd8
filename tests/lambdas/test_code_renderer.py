"""Issue 10.4: render-code — Pygments + Pillow frames piped to FFmpeg, typed out, in the frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from lambdas.code_renderer import core, render
from lambdas.code_renderer.handler import lambda_handler
from lambdas.common.media import probe
from tests.lambdas.conftest import function_event, output_path, read_callback
from tests.lambdas.media_checks import frame_at

pytestmark = pytest.mark.usefixtures("work_root")
CODE = "def greet(name):\n    print(f'hello {name}')\n\ngreet('world')\n"
SCENE = {"language": "python", "theme": "monokai", "title": "hello.py", "code": CODE,
         "highlights": [2]}
SMALL = {"duration": 1.5, "width": 320, "height": 180, "fps": 10}


def _render(tmp_path: Path, scene: Any = SCENE, **fields: Any) -> tuple[dict[str, Any], Path]:
    config = {**SMALL, **fields.pop("config", {})}
    event = function_event(tmp_path, "render-code", scene=scene, config=config, **fields)
    body = lambda_handler(event, None)
    assert read_callback(event) == body
    return body, output_path(event)


def _close(a: Image.Image, b: Image.Image) -> bool:
    """Equal up to encoding noise."""
    return max(ImageChops.difference(a, b).convert("L").getdata()) < 40


def test_typed_out_over_the_duration(tmp_path: Path) -> None:
    body, out = _render(tmp_path)
    result = body["result"]
    assert result["duration"] == pytest.approx(1.5, abs=0.11)
    assert (result["width"], result["height"], result["video_codec"]) == (320, 180, "h264")
    assert result["frames"] == 15 and result["renderer"] == "native"
    info = probe(out)
    assert info.video is not None and info.video.pix_fmt == "yuv420p"
    assert info.audio is None
    assert not _close(frame_at(out, 0.0), frame_at(out, 1.45))  # first frame differs from last
    # Typed within the first 70 %: the last 30 % show the finished code, unchanged.
    assert _close(frame_at(out, 1.2), frame_at(out, 1.45))


def test_instant_and_highlight(tmp_path: Path) -> None:
    _, out = _render(tmp_path / "instant", config={"typing": "instant"})
    first, last = frame_at(out, 0.0), frame_at(out, 1.45)
    assert _close(first, last)
    # The highlighted line's band differs from a plain line's background, right of the code.
    scene = core.parse_scene(SCENE)
    lexer, style = render.lexer_and_style(scene)
    lay = render.fit(render.colored_lines(scene, lexer, style), 320, 180)
    x = lay.window[2] - int(lay.cell_w * 2)
    band_y = lay.code_y + 1 * lay.row_h + lay.row_h // 2  # row of line 2
    plain_y = lay.code_y + 3 * lay.row_h + lay.row_h // 2  # row of line 4
    band, plain = last.getpixel((x, band_y)), last.getpixel((x, plain_y))
    assert sum(abs(p - q) for p, q in zip(band, plain, strict=False)) > 30


def test_long_lines_wrap_inside_the_window(tmp_path: Path) -> None:
    scene = {**SCENE, "code": "x = '" + "abcdefghij" * 40 + "'\nprint(x)\n", "highlights": []}
    body, out = _render(tmp_path, scene=scene, config={"typing": "instant"})
    assert body["result"]["rows"] > 2  # the 400-character line wrapped
    frame = frame_at(out, 1.0)
    margin = round(min(320, 180) * 0.05)
    strip = frame.crop((320 - margin + 2, 0, 320, 180)).convert("L")
    assert max(strip.getdata()) < 40  # nothing drawn in the right margin


def test_scene_from_a_json_asset(tmp_path: Path) -> None:
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(SCENE))
    body, _ = _render(tmp_path, scene=None, scene_uri=path)
    assert body["result"]["language"] == "python"


@pytest.mark.parametrize(("scene", "message"), [
    ({**SCENE, "language": "klingon"}, "unknown language 'klingon'"),
    ({**SCENE, "theme": "neon"}, "unknown theme 'neon'"),
    ({**SCENE, "highlights": [9]}, "outside lines 1-4"),
    ({**SCENE, "highlights": ["a-b"]}, "is not a line or a range"),
    ({**SCENE, "code": "   "}, "'code' must be non-empty text"),
    ({**SCENE, "code": "x\n" * 400}, "a 320x180 frame holds"),
    (None, "a code scene is required"),
])
def test_bad_scenes_call_back_clearly(tmp_path: Path, scene: Any, message: str) -> None:
    body, _ = _render(tmp_path, scene=scene)
    assert body["error_type"] == "InvalidInput" and message in body["error"], body


def test_corrupt_json_asset(tmp_path: Path) -> None:
    path = tmp_path / "scene.json"
    path.write_bytes(b"\x00\x01not json")
    body, _ = _render(tmp_path, scene=None, scene_uri=path)
    assert body["error_type"] == "InvalidInput" and "not JSON" in body["error"]
