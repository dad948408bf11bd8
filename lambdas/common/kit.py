"""What every media function shares: typed event fields, input fetch + probe, the result dict."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdas.common.errors import FFmpegError, InvalidInput
from lambdas.common.events import BaseEvent
from lambdas.common.media import MediaInfo, ProbeError, probe
from lambdas.common.storage import Storage
from lambdas.common.uris import ObjectUri, parse_uri

_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
OUTPUT_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
BASE_ARGS = ("-hide_banner", "-nostdin", "-y", "-loglevel", "error")
# Re-encoding passes: two decoder/encoder threads (a 3 GB Lambda has 2 vCPUs), a short x264
# lookahead and no B-frames keep FFmpeg near 145 MB on 720p input instead of ~220 MB, so a whole
# function stays under 200 MB however large its input (bench/media.py).
DECODE_THREADS = ("-threads", "2")
X264_LOW_MEMORY = ("-threads", "2", "-x264-params", "rc-lookahead=5:sync-lookahead=0:bframes=0")
MAX_VIDEO_SIDE = 8192  # 8K UHD (7680x4320) in either orientation, a little slack per side
MAX_VIDEO_PIXELS = 7680 * 4320
# Demuxers that open the files or URLs an input names: an HLS playlist in the store would make
# FFmpeg read any media file on the machine into the output (DESIGN §7: nothing else may).
INDIRECT_FORMATS = frozenset({"hls", "applehttp", "concat", "dash", "sdp", "rtp", "rtsp", "tee",
                              "ffmetadata", "subfile", "imf"})


def uri_field(event: Mapping[str, Any], name: str) -> ObjectUri:
    """A required URI field; InvalidInput names the field."""
    try:
        return parse_uri(event.get(name))
    except ValueError as exc:
        raise InvalidInput(f"'{name}' is invalid: {exc}") from None


def number(config: Mapping[str, Any], name: str, default: float | None, *,
           low: float | None = None, high: float | None = None) -> float | None:
    """An optional finite number within [low, high]; InvalidInput names the field."""
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"'{name}' must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else (
            f"at least {low:g}" if low is not None else f"at most {high:g}")
        raise InvalidInput(f"'{name}' must be {bounds}, got {value!r}")
    return float(value)


def choice(config: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed` (the first is the default); InvalidInput lists them."""
    value = config.get(name)
    if value is None:
        return allowed[0]
    if value not in allowed:
        raise InvalidInput(f"'{name}' must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def config_of(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's `config` object (empty when absent)."""
    config = event.get("config")
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidInput("'config' must be a JSON object")
    return config


def output_suffix(base: BaseEvent) -> str:
    """The output's extension when we can write it, else .mp4."""
    return base.output.suffix if base.output.suffix in OUTPUT_MUXERS else ".mp4"


def fetch(storage: Storage, uri: ObjectUri, work: Path, name: str) -> Path:
    """A local readable copy of an input, named by us (the extension kept as a demuxer hint)."""
    suffix = uri.suffix if _SAFE_SUFFIX.match(uri.suffix) else ".bin"
    return storage.local_path(uri, work / f"{name}{suffix}")


def probe_input(label: str, uri: ObjectUri, path: Path, *, video: bool = False,
                audio: bool = False) -> MediaInfo:
    """Probe an input; InvalidInput when it is unreadable or lacks a required stream."""
    try:
        info = probe(path)
    except ProbeError as exc:
        raise InvalidInput(f"{label} ({uri}) is not a readable media file: {exc}") from None
    formats = set(info.format_name.split(","))
    if formats & INDIRECT_FORMATS:
        raise InvalidInput(f"{label} ({uri}) is a {info.format_name} playlist or list naming "
                           "other files; only self-contained media files are accepted")
    if video and info.video is None:
        raise InvalidInput(f"{label} ({uri}) has no video stream")
    if video and info.video is not None:
        w, h = info.video.width, info.video.height
        # A tiny file may declare a 16000x16000 picture: every decoded frame, the composer's
        # mask and a merge's scaled clips would then take gigabytes.
        if max(w, h) > MAX_VIDEO_SIDE or w * h > MAX_VIDEO_PIXELS:
            raise InvalidInput(f"{label} ({uri}) is {w}x{h}, larger than the supported "
                               f"7680x4320 (sides up to {MAX_VIDEO_SIDE} px)")
    if audio and info.audio is None:
        raise InvalidInput(f"{label} ({uri}) has no audio stream")
    return info


def describe(base: BaseEvent, out: Path, **extra: Any) -> dict[str, Any]:
    """Probe the finished output into the callback result (docs/CONTRACTS.md)."""
    try:
        info = probe(out)
    except ProbeError as exc:
        raise FFmpegError(f"the output cannot be read back: {exc}") from None
    video, audio = info.video, info.audio
    return {
        "type": "video" if video else "audio",
        "uri": str(base.output),
        "s3Key": base.output_key,
        "bucket": base.output_bucket,
        "size": out.stat().st_size,
        "duration": round(info.duration, 3) if info.duration is not None else None,
        "width": video.width if video else None,
        "height": video.height if video else None,
        "frame_rate": float(video.frame_rate) if video and video.frame_rate else None,
        "video_codec": video.codec if video else None,
        "audio_codec": audio.codec if audio else None,
        "has_audio": audio is not None,
        **extra,
    }
