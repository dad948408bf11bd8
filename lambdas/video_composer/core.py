"""Pure decisions of the video composer (picture-in-picture): event parsing, geometry, argv.

Geometry: the overlay is cropped first (`cropLeft/cropTop/cropWidth/cropHeight`, in the
overlay's own pixels; a box outside the overlay fails naming its real size), then scaled to
`scale` x the background width (aspect kept, even sizes), then given an optional `border` (px,
`borderColor`), then placed at `position` with `offsetX/offsetY` moving it inwards from the
anchored edges (right/left, bottom/top; from the centre for `center`). `rounded` cuts its corners
with a real alpha mask of `radius` px (default 8 % of its shorter side); `opacity` scales that
mask. The overlay with its border must fit in the background. The output has the background's
size.
Time: the output lasts as long as the overlay (the narration is never cut). A longer background
is cut; a shorter one holds its last frame (`backgroundFit: hold`, default) or loops (`loop`).
Audio: the overlay's (the background's when the overlay has none); `audio: mix` mixes both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.common.errors import InvalidInput
from lambdas.common.events import BaseEvent, parse_base_event
from lambdas.common.kit import (
    BASE_ARGS,
    DECODE_THREADS,
    X264_LOW_MEMORY,
    choice,
    config_of,
    number,
    uri_field,
)
from lambdas.common.media import MediaInfo
from lambdas.common.uris import ObjectUri

POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "center")
FITS = ("hold", "loop")
AUDIO = ("overlay", "mix")


@dataclass(frozen=True)
class ComposeEvent:
    """A validated video_composer event."""

    base: BaseEvent
    background: ObjectUri
    overlay: ObjectUri
    config: Mapping[str, Any]
    rounded: bool
    position: str
    fit: str
    audio: str


@dataclass(frozen=True)
class Layout:
    """Where and how big the overlay is drawn, in background pixels."""

    crop: tuple[int, int, int, int]  # left, top, width, height in overlay pixels
    width: int  # scaled overlay, border excluded
    height: int
    border: int
    border_color: str
    radius: int
    opacity: float
    x: int
    y: int

    @property
    def masked(self) -> bool:
        """Whether an alpha mask is needed (rounded corners or partial opacity)."""
        return self.radius > 0 or self.opacity < 1

    @property
    def outer(self) -> tuple[int, int]:
        """Size with the border."""
        return self.width + 2 * self.border, self.height + 2 * self.border


def parse_event(event: Mapping[str, Any]) -> ComposeEvent:
    """Validate a video_composer event; raise InvalidInput naming the problem."""
    base = parse_base_event(event)
    config = config_of(event)
    rounded = config.get("rounded", False)
    if not isinstance(rounded, bool):
        raise InvalidInput(f"'rounded' must be true or false, got {rounded!r}")
    return ComposeEvent(
        base=base, background=uri_field(event, "background_uri"),
        overlay=uri_field(event, "overlay_uri"), config=config, rounded=rounded,
        position=choice(config, "position", POSITIONS), fit=choice(config, "backgroundFit", FITS),
        audio=choice(config, "audio", AUDIO),
    )


def _int(config: Mapping[str, Any], name: str, default: int, low: int = 0) -> int:
    value = number(config, name, default, low=low, high=100_000)
    assert value is not None
    if value != int(value):
        raise InvalidInput(f"'{name}' must be a whole number of pixels, got {value!r}")
    return int(value)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def layout(event: ComposeEvent, background: MediaInfo, overlay: MediaInfo) -> Layout:
    """Crop, size and place the overlay; InvalidInput for a crop box outside the overlay."""
    assert background.video is not None and overlay.video is not None
    bw, bh = background.video.width, background.video.height
    ow, oh = overlay.video.width, overlay.video.height
    c = event.config
    left, top = _int(c, "cropLeft", 0), _int(c, "cropTop", 0)
    width, height = _int(c, "cropWidth", ow - left, 1), _int(c, "cropHeight", oh - top, 1)
    if left + width > ow or top + height > oh or width < 1 or height < 1:
        raise InvalidInput(
            f"the crop box (left {left}, top {top}, {width}x{height}) lies outside the overlay, "
            f"which is {ow}x{oh}"
        )
    scale = number(c, "scale", 0.3, low=0.01, high=1.0)
    assert scale is not None
    w = _even(bw * scale)
    h = _even(w * height / width)
    border = _int(c, "border", 0)
    radius = 0
    if event.rounded:
        radius = _int(c, "radius", round(0.08 * min(w, h)))
        radius = min(radius, min(w, h) // 2)
    opacity = number(c, "opacity", 1.0, low=0.0, high=1.0)
    assert opacity is not None
    color = c.get("borderColor", "white")
    if not isinstance(color, str) or not color.replace("#", "").isalnum():
        raise InvalidInput(f"'borderColor' must be a colour name or #RRGGBB, got {color!r}")
    dx, dy = _int(c, "offsetX", 0, -100_000), _int(c, "offsetY", 0, -100_000)
    tw, th = w + 2 * border, h + 2 * border
    # Bounded before Pillow draws the 4x mask and FFmpeg pads: a 2 px wide crop of a 1080 p
    # overlay would otherwise ask for a 576x311040 frame and a mask of gigabytes.
    if tw > bw + 1 or th > bh + 1:  # +1: the even rounding of an odd background
        raise InvalidInput(
            f"the overlay would be {tw}x{th} (scaled, border included), larger than the "
            f"{bw}x{bh} background: lower 'scale' or 'border', or crop a wider box"
        )
    x = {"left": dx, "right": bw - tw - dx, "center": (bw - tw) // 2 + dx}
    y = {"top": dy, "bottom": bh - th - dy, "center": (bh - th) // 2 + dy}
    vertical, _, horizontal = event.position.partition("-")
    horizontal = horizontal or "center"
    return Layout((left, top, width, height), w, h, border, color, radius, opacity,
                  x[horizontal], y[vertical])


def compose_argv(ffmpeg: str, event: ComposeEvent, bg_path: str, ov_path: str,
                 mask_path: str | None, lay: Layout, background: MediaInfo, overlay: MediaInfo,
                 out: str, muxer: str) -> list[str]:
    """The single-pass argv (inputs: 0 background, 1 overlay, 2 the mask image if any)."""
    duration = float(overlay.duration or 0)
    d = f"{duration:.6f}"
    assert overlay.video is not None and background.video is not None
    fps = overlay.video.frame_rate or background.video.frame_rate
    rate = f"{fps.numerator}/{fps.denominator}" if fps else "30"
    left, top, cw, ch = lay.crop
    bg = "[0:v:0]"
    if event.fit == "hold":
        bg += f"tpad=stop_mode=clone:stop_duration={d},"
    parts = [f"{bg}fps={rate},setsar=1,format=yuv420p[bg]"]
    ov = f"[1:v:0]crop={cw}:{ch}:{left}:{top},scale={lay.width}:{lay.height},setsar=1,fps={rate}"
    if lay.border:
        tw, th = lay.outer
        ov += f",pad={tw}:{th}:{lay.border}:{lay.border}:color={lay.border_color}"
    if mask_path is not None:
        parts.append(f"{ov},format=yuva420p[ovc]")
        parts.append("[2:v:0]format=gray[mask]")
        parts.append("[ovc][mask]alphamerge[ov]")
    else:
        parts.append(f"{ov}[ov]")
    parts.append(f"[bg][ov]overlay=x={lay.x}:y={lay.y}:eof_action=pass,format=yuv420p[vout]")
    maps = ["-map", "[vout]"]
    sources = [s for s, info in (("0", background), ("1", overlay)) if info.audio is not None]
    if event.audio == "mix" and len(sources) == 2:
        parts.append(f"[0:a:0]apad,atrim=duration={d}[ba]")
        parts.append(f"[1:a:0]apad,atrim=duration={d}[oa]")
        parts.append("[oa][ba]amix=inputs=2:duration=first:normalize=0[aout]")
        maps += ["-map", "[aout]"]
    elif sources:
        maps += ["-map", f"{'1' if '1' in sources else '0'}:a:0"]
    argv = [ffmpeg, *BASE_ARGS]
    if event.fit == "loop":
        argv += ["-stream_loop", "-1"]
    argv += [*DECODE_THREADS, "-i", bg_path, *DECODE_THREADS, "-i", ov_path]
    if mask_path is not None:
        argv += ["-loop", "1", "-framerate", rate, "-i", mask_path]
    argv += ["-filter_complex_threads", "1", "-filter_complex", ";".join(parts), *maps, "-t", d,
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", *X264_LOW_MEMORY,
             "-pix_fmt", "yuv420p"]
    if len(maps) > 2:
        argv += ["-c:a", "aac", "-b:a", "192k"]
    if muxer in ("mp4", "mov"):
        argv += ["-movflags", "+faststart"]
    return [*argv, "-f", muxer, out]
