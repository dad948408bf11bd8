"""Pure decisions of the audio mixer: event parsing and the one FFmpeg argv.

Rule: the output keeps the video's length D and its video stream (copied). The new audio is
scaled by `audioVolume`, padded with silence when shorter than D, cut at D when longer, then
faded in over `fadeIn` seconds from 0 and out over `fadeOut` seconds ending at D (the new end).
`mode: replace` (default) drops the video's own audio; `mode: mix` keeps it, scaled by
`videoVolume`, under the new audio (a video without audio then simply gets the new audio).
`loudnorm` (a target in LUFS, e.g. -16) normalizes the final mix in one pass. Audio is encoded
once, AAC at the new audio's sample rate (48 kHz after loudnorm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.common.errors import InvalidInput
from lambdas.common.events import BaseEvent, parse_base_event
from lambdas.common.kit import BASE_ARGS, choice, config_of, number, uri_field
from lambdas.common.media import MediaInfo
from lambdas.common.uris import ObjectUri

MODES = ("replace", "mix")
MIN_FADE = 0.000001


@dataclass(frozen=True)
class MixEvent:
    """A validated audio_mixer event."""

    base: BaseEvent
    video: ObjectUri
    audio: ObjectUri
    audio_volume: float
    video_volume: float
    fade_in: float
    fade_out: float
    mode: str
    loudnorm: float | None


def parse_event(event: Mapping[str, Any]) -> MixEvent:
    """Validate an audio_mixer event; raise InvalidInput naming the problem."""
    base = parse_base_event(event)
    config = config_of(event)
    values = {
        "audio_volume": number(config, "audioVolume", 1.0, low=0, high=10),
        "video_volume": number(config, "videoVolume", 1.0, low=0, high=10),
        "fade_in": number(config, "fadeIn", 0.0, low=0, high=3600),
        "fade_out": number(config, "fadeOut", 0.0, low=0, high=3600),
    }
    loudnorm = number(config, "loudnorm", None, low=-70, high=-5)
    return MixEvent(base=base, video=uri_field(event, "video_uri"),
                    audio=uri_field(event, "audio_uri"), mode=choice(config, "mode", MODES),
                    loudnorm=loudnorm, **{k: float(v or 0.0) for k, v in values.items()})


def check_fades(event: MixEvent, duration: float) -> None:
    """Each fade fits in the output; InvalidInput names the one that does not."""
    for name, value in (("fadeIn", event.fade_in), ("fadeOut", event.fade_out)):
        if value > duration:
            raise InvalidInput(f"'{name}' ({value:g}s) is longer than the video ({duration:.3f}s)")


def mix_filter(event: MixEvent, video: MediaInfo, duration: float) -> tuple[str, bool]:
    """The filter graph ending in [aout], and whether the video's own audio is mixed in."""
    d = f"{duration:.6f}"
    chain = [f"volume={event.audio_volume:g}", "apad", f"atrim=duration={d}"]
    # Fixed-point: FFmpeg's duration options refuse "1e-07"; fades under 1 us are none.
    if event.fade_in >= MIN_FADE:
        chain.append(f"afade=t=in:st=0:d={event.fade_in:.6f}")
    if event.fade_out >= MIN_FADE:
        chain.append(f"afade=t=out:st={max(0.0, duration - event.fade_out):.6f}:"
                     f"d={event.fade_out:.6f}")
    parts = ["[1:a:0]" + ",".join(chain) + "[new]"]
    mixed = event.mode == "mix" and video.audio is not None
    last = "[new]"
    if mixed:
        parts.append(f"[0:a:0]volume={event.video_volume:g},apad,atrim=duration={d}[own]")
        parts.append("[new][own]amix=inputs=2:duration=first:normalize=0[mixed]")
        last = "[mixed]"
    if event.loudnorm is not None:
        parts.append(f"{last}loudnorm=I={event.loudnorm:g}:TP=-1.5:LRA=11,aresample=48000[aout]")
    else:
        parts.append(f"{last}anull[aout]")
    return ";".join(parts), mixed


def mix_argv(ffmpeg: str, video_path: str, audio_path: str, graph: str, duration: float,
             out: str, muxer: str) -> list[str]:
    """Video copied from input 0, the mixed audio encoded once, cut at the video's length."""
    argv = [ffmpeg, *BASE_ARGS, "-i", video_path, "-i", audio_path,
            "-filter_complex", graph, "-map", "0:v:0", "-map", "[aout]",
            "-c:v", "copy", "-c:a", "aac", "-b:a", "192k", "-t", f"{duration:.6f}"]
    if muxer in ("mp4", "mov"):
        argv += ["-movflags", "+faststart"]
    return [*argv, "-f", muxer, out]
