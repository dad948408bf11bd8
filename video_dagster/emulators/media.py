"""Real media for the emulators, made with the bundled FFmpeg (argv, never a shell)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

SECONDS_PER_CHARACTER = 0.06  # about 16 characters per second of speech
MIN_SECONDS = 0.5


def ffmpeg() -> str:
    """The imageio-ffmpeg binary."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([ffmpeg(), "-nostdin", "-y", "-loglevel", "error", *args], check=True,
                   timeout=120, capture_output=True)
    return time.perf_counter() - started


def speech_seconds(text: str) -> float:
    """The emulated speech length of `text`."""
    return round(max(MIN_SECONDS, len(text) * SECONDS_PER_CHARACTER), 3)


def make_speech(text: str, dest: Path, fmt: str = "mp3") -> float:
    """A tone as long as `text` would be spoken; returns the FFmpeg wall time."""
    seconds = speech_seconds(text)
    codec = (["-c:a", "pcm_s16le", "-f", "wav"] if fmt == "wav"
             else ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"])
    freq = 200 + (sum(map(ord, text)) % 400)
    return _run(["-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=44100:duration={seconds}",
                 "-ac", "1", *codec, str(dest)])


def make_avatar_video(audio: Path, dest: Path, width: int, height: int,
                      colour: str = "0x336699") -> float:
    """An H.264/AAC MP4 with `audio` as its track, exactly as long as the audio."""
    seconds = probe_duration(audio)
    return _run(["-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r=25",
                 "-i", str(audio), "-t", f"{seconds:.3f}", "-map", "0:v", "-map", "1:a",
                 "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(dest)])


def probe_duration(path: Path) -> float:
    """Container duration in seconds, probed with PyAV."""
    import av

    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000


def make_clip(dest: Path, seconds: float, width: int, height: int, image: Path | None = None,
              audio: bool = True) -> float:
    """A generated clip of the requested length and size: the reference image (scaled to fit)
    when given, else a test pattern; with a tone track when `audio`."""
    fit = (f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
           f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1")
    source = (["-loop", "1", "-framerate", "24", "-i", str(image)] if image else
              ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=24"])
    sound = (["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"] if audio else [])
    tracks = ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "64k"] if audio else []
    return _run([*source, *sound, "-t", f"{seconds:.3f}", "-vf", fit, *tracks,
                 "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-movflags", "+faststart", str(dest)])
