"""Merges with a transition: one FFmpeg pass, xfade + acrossfade between consecutive clips (pure).

Rule: every clip is brought to the first clip's size (fit and pad), frame rate and yuv420p, then
clip k+1 starts `duration` seconds before clip k ends and the two are blended over that overlap
(`crossfade`: a dissolve; `fade`: through black). The output lasts exactly the sum of the clip
durations minus (clips - 1) * duration. Audio follows the same overlaps with acrossfade; a clip
without audio contributes silence of its length; if no clip has audio the output has none. The
duration must be shorter than every clip, so each clip is seen on its own for a moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from lambdas.common.errors import InvalidInput
from lambdas.common.kit import BASE_ARGS, DECODE_THREADS, X264_LOW_MEMORY
from lambdas.common.media import MediaInfo

TRANSITIONS = ("none", "fade", "crossfade")
XFADE = {"fade": "fadeblack", "crossfade": "fade"}
DEFAULT_DURATION = 0.5
DEFAULT_FPS = Fraction(30)


def check_duration(transition: str, duration: float, infos: Sequence[MediaInfo]) -> None:
    """Every clip must outlast the transition; InvalidInput names the first that does not."""
    if transition == "none":
        return
    for i, info in enumerate(infos):
        if not info.duration or info.duration <= duration:
            raise InvalidInput(
                f"input_videos[{i}] lasts {info.duration or 0:.3f}s, not longer than the "
                f"{duration:g}s transition"
            )


def expected_duration(durations: Sequence[float], duration: float) -> float:
    """The exact output length: sum - overlaps."""
    return sum(durations) - duration * (len(durations) - 1)


def transition_argv(ffmpeg: str, sources: Sequence[str], infos: Sequence[MediaInfo],
                    transition: str, duration: float, out: str, muxer: str) -> list[str]:
    """The single-pass argv for a merge with `transition` lasting `duration` seconds."""
    first = infos[0].video
    assert first is not None
    w, h = first.width + first.width % 2, first.height + first.height % 2
    fps = first.frame_rate or DEFAULT_FPS
    rate = f"{fps.numerator}/{fps.denominator}"
    audio = next((i.audio for i in infos if i.audio is not None), None)
    lengths = [float(i.duration or 0) for i in infos]
    parts: list[str] = []
    for k, info in enumerate(infos):
        parts.append(
            f"[{k}:v:0]scale={w}:{h}:force_original_aspect_ratio=decrease,"
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={rate},format=yuv420p,"
            f"trim=duration={lengths[k]:.6f},setpts=PTS-STARTPTS[v{k}]"
        )
        if audio is not None:
            fmt = f"aformat=sample_rates={audio.sample_rate}:channel_layouts={audio.layout}"
            src = f"[{k}:a:0]" if info.audio is not None else (
                f"anullsrc=r={audio.sample_rate}:cl={audio.layout},")
            # Padded then cut: each clip's audio lasts exactly as long as its video.
            parts.append(f"{src}{fmt},apad,atrim=duration={lengths[k]:.6f},"
                         f"asetpts=PTS-STARTPTS[a{k}]")
    video_in, audio_in, offset = "[v0]", "[a0]", 0.0
    for k in range(1, len(infos)):
        offset += lengths[k - 1] - duration
        last = k == len(infos) - 1
        video_out, audio_out = ("[vout]", "[aout]") if last else (f"[vx{k}]", f"[ax{k}]")
        parts.append(f"{video_in}[v{k}]xfade=transition={XFADE[transition]}:"
                     f"duration={duration:.6f}:offset={offset:.6f}{video_out}")
        if audio is not None:
            parts.append(f"{audio_in}[a{k}]acrossfade=d={duration:.6f}:c1=tri:c2=tri{audio_out}")
        video_in, audio_in = video_out, audio_out
    argv = [ffmpeg, *BASE_ARGS]
    for src in sources:
        argv += [*DECODE_THREADS, "-i", src]
    argv += ["-filter_complex_threads", "1", "-filter_complex", ";".join(parts), "-map", "[vout]"]
    argv += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", *X264_LOW_MEMORY,
             "-pix_fmt", "yuv420p"]
    if audio is not None:
        argv += ["-map", "[aout]", "-c:a", "aac", "-b:a", "192k"]
    if muxer in ("mp4", "mov"):
        argv += ["-movflags", "+faststart"]
    return [*argv, "-f", muxer, out]
