"""Pure decisions of the video merger: event parsing, the compatibility rule, FFmpeg argv.

Compatibility rule (the first input is the reference):
- The target is the first input's video (codec, width, height, pixel format, frame rate, time
  base) and audio (codec, sample rate, channels). If the first input has no audio but a later
  one does, the target audio is that of the first input that has audio; if none has audio, the
  output has none.
- An input is concatenated as is when its video matches the target (same codec, width, height
  and pixel format, frame rate within 0.5 %), its time base equals the target's (mp4/mov only;
  other containers fix their own), its audio matches the target (same codec, sample rate and
  channels) or both have none, and its layout is canonical: video at stream 0, audio at 1.
- Every other input is normalized on its own, stream by stream: a mismatched video is
  re-encoded to the target (scaled to fit and padded, fps and pixel format forced); a matching
  video is copied; a mismatched audio is re-encoded; a missing audio becomes a silent track of
  the input's duration. Layout and time base are fixed by the same pass (a remux when nothing
  needs encoding).
- If the target codec has no known encoder and some input needs encoding, the target codec
  falls back to H.264/AAC, which makes the first input (and so every input) normalized.
- Then all segments are joined with the concat demuxer and `-c copy`. `mode` reports "copy"
  (nothing normalized), "remux" (normalized without encoding) or "reencode".

Concat lists only ever name files inside our work dir (`seg_000.mp4`, symlinks or downloads),
because the concat demuxer reads its list line by line: a newline cannot be quoted there, so
user keys and paths with quotes or newlines are never written into the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal

from lambdas.common.errors import InvalidInput
from lambdas.common.events import BaseEvent, parse_base_event
from lambdas.common.kit import choice, number
from lambdas.common.media import AudioInfo, MediaInfo, VideoInfo
from lambdas.common.uris import ObjectUri, parse_uri
from lambdas.video_merger.transitions import DEFAULT_DURATION, TRANSITIONS

MIN_INPUTS = 2
FPS_TOLERANCE = 0.005
VIDEO_ENCODERS = {
    "h264": "libx264", "hevc": "libx265", "mpeg4": "mpeg4", "vp9": "libvpx-vp9",
    "vp8": "libvpx", "mjpeg": "mjpeg", "prores": "prores_ks",
}
AUDIO_ENCODERS = {
    "aac": "aac", "mp3": "libmp3lame", "opus": "libopus", "vorbis": "libvorbis",
    "flac": "flac", "ac3": "ac3", "pcm_s16le": "pcm_s16le",
}
FALLBACK_VIDEO, FALLBACK_AUDIO = "h264", "aac"
X264_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline",
                 "Main": "main", "High": "high"}
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
MOV_FAMILY = {"mp4", "mov"}
_BASE = ("-hide_banner", "-nostdin", "-y", "-loglevel", "error")

AudioAction = Literal["copy", "encode", "silence", "none"]
Mode = Literal["copy", "remux", "reencode"]


@dataclass(frozen=True)
class MergeEvent:
    """A validated video_merger event."""

    base: BaseEvent
    inputs: tuple[ObjectUri, ...]
    transition: str = "none"
    transition_duration: float = 0.0

    @property
    def suffix(self) -> str:
        """Output file extension, defaulting to .mp4 for unknown ones."""
        return self.base.output.suffix if self.base.output.suffix in MUXERS else ".mp4"

    @property
    def muxer(self) -> str:
        """FFmpeg muxer name for the output container."""
        return MUXERS[self.suffix]


@dataclass(frozen=True)
class Target:
    """The stream parameters every segment must have before the copy concat."""

    video: VideoInfo
    audio: AudioInfo | None


@dataclass(frozen=True)
class InputPlan:
    """What to do with one input before concatenation."""

    index: int
    encode_video: bool
    audio: AudioAction
    remux: bool

    @property
    def needs_work(self) -> bool:
        """Whether the input must be rewritten before it can be stream-copied."""
        return self.remux or self.encode_video or self.audio in ("encode", "silence")


def parse_event(event: Mapping[str, Any]) -> MergeEvent:
    """Validate a merge event; raise InvalidInput naming the problem."""
    base = parse_base_event(event)
    raw = event.get("input_videos")
    if not isinstance(raw, list):
        raise InvalidInput("'input_videos' is required and must be a list of URIs")
    if len(raw) < MIN_INPUTS:
        raise InvalidInput(f"'input_videos' needs at least {MIN_INPUTS} videos, got {len(raw)}")
    inputs = []
    for i, uri in enumerate(raw):
        try:
            inputs.append(parse_uri(uri))
        except ValueError as exc:
            raise InvalidInput(f"input_videos[{i}] is invalid: {exc}") from None
    transition = choice(event, "transition", TRANSITIONS)
    duration = number(event, "transition_duration", DEFAULT_DURATION, low=0.04, high=10.0)
    assert duration is not None
    return MergeEvent(base=base, inputs=tuple(inputs), transition=transition,
                      transition_duration=duration if transition != "none" else 0.0)


def choose_target(infos: Sequence[MediaInfo]) -> Target:
    """The first input's parameters; audio from the first input that has any."""
    video = infos[0].video
    if video is None:
        raise InvalidInput("input_videos[0] has no video stream")
    audio = next((info.audio for info in infos if info.audio is not None), None)
    return Target(video=video, audio=audio)


def fps_close(a: Fraction | None, b: Fraction | None) -> bool:
    """Frame rates equal within FPS_TOLERANCE (unknown only matches unknown)."""
    if a is None or b is None:
        return a == b
    return abs(a - b) <= FPS_TOLERANCE * b


def video_matches(video: VideoInfo, target: VideoInfo) -> bool:
    """Same codec, size and pixel format, and a close frame rate."""
    return (
        (video.codec, video.width, video.height, video.pix_fmt)
        == (target.codec, target.width, target.height, target.pix_fmt)
        and fps_close(video.frame_rate, target.frame_rate)
    )


def audio_matches(audio: AudioInfo, target: AudioInfo) -> bool:
    """Same codec, sample rate and channel count."""
    return (audio.codec, audio.sample_rate, audio.channels) == (
        target.codec, target.sample_rate, target.channels
    )


def plan_input(index: int, info: MediaInfo, target: Target, muxer: str) -> InputPlan:
    """Apply the compatibility rule to one input."""
    video = info.video
    if video is None:
        raise InvalidInput(f"input_videos[{index}] has no video stream")
    audio: AudioAction
    if target.audio is None:
        audio = "none"  # no input has audio (the target takes any input's audio)
    elif info.audio is None:
        audio = "silence"
    else:
        audio = "copy" if audio_matches(info.audio, target.audio) else "encode"
    canonical = video.index == 0 and (info.audio is None or info.audio.index == 1)
    retime = muxer in MOV_FAMILY and video.time_base != target.video.time_base
    return InputPlan(index, not video_matches(video, target.video), audio, not canonical or retime)


def plan_inputs(infos: Sequence[MediaInfo], muxer: str) -> tuple[Target, list[InputPlan]]:
    """The target and a plan per input, with the encoder fallback applied."""
    target = choose_target(infos)
    plans = [plan_input(i, info, target, muxer) for i, info in enumerate(infos)]
    fallback = target
    if any(p.encode_video for p in plans) and target.video.codec not in VIDEO_ENCODERS:
        video = replace(target.video, codec=FALLBACK_VIDEO, pix_fmt="yuv420p", profile=None)
        fallback = replace(fallback, video=video)
    audio = target.audio
    if audio is not None and audio.codec not in AUDIO_ENCODERS:
        if any(p.audio in ("encode", "silence") for p in plans):
            fallback = replace(fallback, audio=replace(audio, codec=FALLBACK_AUDIO))
    if fallback != target:
        plans = [plan_input(i, info, fallback, muxer) for i, info in enumerate(infos)]
    return fallback, plans


def merge_mode(plans: Sequence[InputPlan]) -> Mode:
    """Report `copy` if no input is rewritten, `remux` if none is encoded, else `reencode`."""
    if not any(p.needs_work for p in plans):
        return "copy"
    if any(p.encode_video or p.audio in ("encode", "silence") for p in plans):
        return "reencode"
    return "remux"


def escape_concat_path(path: str) -> str:
    """Quote a path for a concat list: inside '' only the quote itself needs `'\\''`."""
    if any(ch in path for ch in "\n\r\x00"):
        raise ValueError(f"a concat list cannot name a path with a line break: {path!r}")
    return "'" + path.replace("'", "'\\''") + "'"


def concat_list(paths: Sequence[str]) -> str:
    """The concat demuxer script joining paths in order."""
    lines = ["ffconcat version 1.0"] + [f"file {escape_concat_path(p)}" for p in paths]
    return "\n".join(lines) + "\n"


def concat_argv(
    ffmpeg: str, list_path: str, out_path: str, has_audio: bool, muxer: str
) -> list[str]:
    """Stream-copy concat of the segments named in list_path."""
    maps = ["-map", "0:v:0"] + (["-map", "0:a:0"] if has_audio else [])
    return [ffmpeg, *_BASE, "-f", "concat", "-safe", "0", "-i", list_path, *maps,
            "-c", "copy", "-f", muxer, out_path]


def normalize_argv(
    ffmpeg: str, src: str, dst: str, info: MediaInfo, plan: InputPlan, target: Target, muxer: str
) -> list[str]:
    """Rewrite one input to the target's parameters, touching only mismatched streams."""
    argv = [ffmpeg, *_BASE, "-i", src]
    maps = ["-map", "0:v:0"]
    if plan.audio == "silence":
        assert target.audio is not None
        duration = ["-t", f"{info.duration:.6f}"] if info.duration else []
        layout, rate = target.audio.layout, target.audio.sample_rate
        silence = f"anullsrc=channel_layout={layout}:sample_rate={rate}"
        argv += ["-f", "lavfi", *duration, "-i", silence]
        maps += ["-map", "1:a:0"]
    elif plan.audio in ("copy", "encode"):
        maps += ["-map", "0:a:0"]
    argv += maps + (_video_encode_args(target.video) if plan.encode_video else ["-c:v", "copy"])
    if plan.audio == "copy":
        argv += ["-c:a", "copy"]
    elif plan.audio in ("encode", "silence"):
        assert target.audio is not None
        argv += _audio_encode_args(target.audio)
    if plan.audio == "silence" and not info.duration:
        argv += ["-shortest"]
    tb = target.video.time_base
    if muxer in MOV_FAMILY and tb is not None and tb.numerator == 1:
        argv += ["-video_track_timescale", str(tb.denominator)]
    return [*argv, "-f", muxer, dst]


def _video_encode_args(video: VideoInfo) -> list[str]:
    w, h = video.width, video.height
    filters = [
        f"scale={w}:{h}:force_original_aspect_ratio=decrease",
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2",
        "setsar=1",
    ]
    if video.frame_rate:
        filters.append(f"fps={video.frame_rate.numerator}/{video.frame_rate.denominator}")
    if video.pix_fmt:
        filters.append(f"format={video.pix_fmt}")
    encoder = VIDEO_ENCODERS[video.codec]
    args = ["-vf", ",".join(filters), "-c:v", encoder]
    if encoder == "libx264":
        args += ["-preset", "veryfast", "-crf", "18"]
        if video.profile in X264_PROFILES:
            args += ["-profile:v", X264_PROFILES[video.profile]]
    elif encoder in ("mpeg4", "mjpeg"):
        args += ["-q:v", "2"]
    elif encoder == "libx265":
        args += ["-preset", "fast", "-crf", "20"]
    return args


def _audio_encode_args(audio: AudioInfo) -> list[str]:
    encoder = AUDIO_ENCODERS[audio.codec]
    args = ["-c:a", encoder, "-ar", str(audio.sample_rate), "-ac", str(audio.channels)]
    if encoder in ("aac", "libmp3lame", "libopus", "libvorbis", "ac3"):
        args += ["-b:a", "192k"]
    return args
