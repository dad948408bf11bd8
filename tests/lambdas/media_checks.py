"""Probing and pixel/level sampling of outputs for the media function tests (no numpy)."""

from __future__ import annotations

from array import array
from pathlib import Path

import av
from PIL import Image, ImageStat


def frame_at(path: Path, seconds: float) -> Image.Image:
    """The decoded video frame shown at `seconds` (the last one starting at or before it), RGB."""
    chosen = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time > seconds + 1e-6:
                break
            chosen = frame.to_image()
    assert chosen is not None, f"no frame at {seconds}s in {path}"
    return chosen.convert("RGB")


def brightness(image: Image.Image) -> float:
    """Mean luma, 0..255."""
    return float(ImageStat.Stat(image.convert("L")).mean[0])


def streams(path: Path) -> list[str]:
    """Stream types in order."""
    with av.open(str(path)) as container:
        return [s.type for s in container.streams]


def audio_level(path: Path, start: float, end: float) -> float:
    """Mean absolute sample (0..1) of the first audio stream between start and end seconds."""
    total, count = 0.0, 0
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono")
        for frame in container.decode(audio=0):
            if frame.time is None or not start <= frame.time < end:
                continue
            for out in resampler.resample(frame):
                samples = array("f", bytes(out.planes[0]))[: out.samples]
                total += sum(abs(x) for x in samples)
                count += len(samples)
    assert count, f"no audio between {start}s and {end}s"
    return total / count
