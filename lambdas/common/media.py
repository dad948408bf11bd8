"""Locate FFmpeg, run it as an argv list with a deadline, and probe media with PyAV."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

from lambdas.common.errors import FFmpegError, FFmpegTimeout, InternalError

STDERR_TAIL = 2000
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream's parameters that decide whether streams can be concatenated."""

    index: int
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    frame_rate: Fraction | None
    time_base: Fraction | None
    profile: str | None = None


@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream's parameters."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str


@dataclass(frozen=True)
class MediaInfo:
    """What probing a file found."""

    format_name: str
    duration: float | None
    stream_types: tuple[str, ...]
    video: VideoInfo | None
    audio: AudioInfo | None


class ProbeError(ValueError):
    """The file is not a media file PyAV can open."""


def ffmpeg_exe() -> str:
    """`FFMPEG_PATH` (the AWS layer's /opt/bin/ffmpeg) if set, else imageio-ffmpeg's binary."""
    configured = os.environ.get("FFMPEG_PATH")
    if configured:
        if not os.access(configured, os.X_OK):
            raise InternalError(f"FFMPEG_PATH is not an executable: {configured}")
        return configured
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def die_with_parent() -> None:
    """In a child before exec: SIGKILL it when its parent dies (Linux), so no FFmpeg outlives
    a killed runner. The child also stays in the runner's process group (no new session)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_ffmpeg(argv: Sequence[str], timeout: float) -> None:
    """Run an ffmpeg argv (no shell); raise FFmpegError with the stderr tail, or FFmpegTimeout."""
    # stderr goes to an anonymous file so a chatty failure cannot grow our memory.
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(
                list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                timeout=timeout, check=False, preexec_fn=die_with_parent,
            )
        except subprocess.TimeoutExpired:
            raise FFmpegTimeout(
                f"ffmpeg did not finish within {timeout:.0f}s: {_tail(err)}"
            ) from None
        if proc.returncode != 0:
            raise FFmpegError(f"ffmpeg exited with code {proc.returncode}: {_tail(err)}")


def pipe_ffmpeg(argv: Sequence[str], chunks: Iterable[bytes], timeout: float) -> int:
    """Run ffmpeg reading raw input on stdin, fed from chunks; returns the bytes written.

    Raise FFmpegError (with the stderr tail) when it fails or stops reading, FFmpegTimeout when
    the deadline passes; the process never outlives this call.
    """
    end = time.monotonic() + timeout
    written = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=err, preexec_fn=die_with_parent)
        assert proc.stdin is not None
        try:
            for chunk in chunks:
                if time.monotonic() > end:
                    raise FFmpegTimeout(f"ffmpeg did not finish within {timeout:.0f}s")
                proc.stdin.write(chunk)
                written += len(chunk)
            proc.stdin.close()
            code = proc.wait(timeout=max(1.0, end - time.monotonic()))
        except BrokenPipeError:
            code = proc.wait(timeout=30)
            raise FFmpegError(
                f"ffmpeg stopped reading its input (code {code}): {_tail(err)}") from None
        except subprocess.TimeoutExpired:
            raise FFmpegTimeout(
                f"ffmpeg did not finish within {timeout:.0f}s: {_tail(err)}") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            raise FFmpegError(f"ffmpeg exited with code {code}: {_tail(err)}")
    return written


def _tail(err: IO[bytes]) -> str:
    err.seek(0, os.SEEK_END)
    size = err.tell()
    err.seek(max(0, size - STDERR_TAIL))
    text = err.read().decode("utf-8", "replace").strip()
    return text or "(no output)"


def probe(path: Path | str) -> MediaInfo:
    """Probe container duration and the first video/audio stream; raise ProbeError if unreadable."""
    import av

    try:
        with av.open(str(path)) as container:
            video = audio = None
            types: list[str] = []
            durations: list[float] = []
            for stream in container.streams:
                types.append(stream.type)
                if stream.duration is not None and stream.time_base is not None:
                    durations.append(float(stream.duration * stream.time_base))
                if isinstance(stream, av.VideoStream) and video is None:
                    ctx = stream.codec_context
                    video = VideoInfo(
                        index=stream.index,
                        codec=ctx.name,
                        width=ctx.width,
                        height=ctx.height,
                        pix_fmt=ctx.pix_fmt,
                        frame_rate=stream.average_rate or stream.guessed_rate,
                        time_base=stream.time_base,
                        profile=ctx.profile,
                    )
                elif isinstance(stream, av.AudioStream) and audio is None:
                    actx = stream.codec_context
                    audio = AudioInfo(
                        index=stream.index,
                        codec=actx.name,
                        sample_rate=actx.sample_rate,
                        channels=actx.layout.nb_channels,
                        layout=actx.layout.name,
                    )
            duration = container.duration / 1_000_000 if container.duration else None
            if duration is None and durations:
                duration = max(durations)
            return MediaInfo(container.format.name, duration, tuple(types), video, audio)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ProbeError(str(exc)) from None
