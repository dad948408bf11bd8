"""AWS Lambda entry point of the code renderer: scene → Pillow frames → FFmpeg pipe → upload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.code_renderer import core, render
from lambdas.common.errors import InvalidInput
from lambdas.common.kit import BASE_ARGS, OUTPUT_MUXERS, describe, output_suffix
from lambdas.common.logs import JsonLogger
from lambdas.common.media import ffmpeg_exe, pipe_ffmpeg
from lambdas.common.runtime import Deadline, run_with_callback
from lambdas.common.storage import Storage
from lambdas.common.workdir import work_dir

LOG = JsonLogger("code_renderer")
MAX_SCENE_BYTES = 1_048_576


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Render the code scene to `output_uri`; always writes the callback."""
    return run_with_callback(
        event, LOG, lambda raw, storage: render_code(raw, storage, context), context)


def draw_rate(fps: int) -> int:
    """Pictures drawn per second: half of an even fps >= 24 (typing still looks continuous at
    12-30 updates/s), doubled back by FFmpeg's fps filter, which halves the raw frames to read
    and convert; the output keeps `fps`."""
    return fps // 2 if fps >= 24 and fps % 2 == 0 else fps


def encode_argv(ffmpeg: str, width: int, height: int, fps: int, out: str, muxer: str) -> list[str]:
    """Raw RGB pictures on stdin at draw_rate(fps) -> H.264 yuv420p at fps; ultrafast keeps a
    1080p30 render >= 2x real time on one core (bench/media.py), at a larger file."""
    argv = [ffmpeg, *BASE_ARGS, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-r", str(draw_rate(fps)), "-i", "pipe:0", "-vf", f"format=yuv420p,fps={fps}",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p"]
    if muxer in ("mp4", "mov"):
        argv += ["-movflags", "+faststart"]
    return [*argv, "-f", muxer, out]


def render_code(raw: Mapping[str, Any], storage: Storage, context: Any = None) -> dict[str, Any]:
    """Do the render in a private temp dir and return the result."""
    event = core.parse_event(raw)
    deadline = Deadline(context)
    ffmpeg = ffmpeg_exe()
    suffix = output_suffix(event.base)
    with work_dir("code_renderer") as work:
        scene_raw = event.scene
        if event.scene_uri is not None:
            path = storage.local_path(event.scene_uri, work / "scene.json")
            if path.stat().st_size > MAX_SCENE_BYTES:
                raise InvalidInput(f"the code scene is larger than {MAX_SCENE_BYTES} bytes")
            scene_raw = core.scene_from_json(path.read_bytes())
        assert scene_raw is not None
        scene = core.parse_scene(scene_raw)
        lexer, style = render.lexer_and_style(scene)
        lines = render.colored_lines(scene, lexer, style)
        lay = render.fit(lines, event.width, event.height)
        # At least one frame: 0.5 s at 1 fps rounds to none, and an empty stream is no video.
        total = max(1, round(event.duration * event.fps))
        drawn = draw_rate(event.fps)
        rate = core.typing_rate(event, sum(len(r.cells) for r in lay.rows), len(lay.rows))
        counts = core.visible_counts([len(r.cells) for r in lay.rows], rate, drawn,
                                     max(1, round(event.duration * drawn)))
        out = work / f"output{suffix}"
        size = (event.width, event.height)
        pipe_ffmpeg(encode_argv(ffmpeg, *size, event.fps, str(out), OUTPUT_MUXERS[suffix]),
                    render.frames(scene, lay, style, size, counts), deadline.seconds_left())
        if raw.get("requested_provider") == "remotion":
            note = "rendered by the native renderer: no Remotion deployment is configured"
        else:
            note = None
        result = describe(event.base, out, renderer="native", note=note, language=scene.language,
                          theme=scene.theme, font_size=lay.font.size, rows=len(lay.rows),
                          frames=total)
        storage.upload(out, event.base.output, move=True)
    return result
