"""The overlay's alpha mask: rounded corners (anti-aliased) scaled by the opacity, one PNG."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

_SUPERSAMPLE = 4


def write_mask(path: Path, size: tuple[int, int], radius: int, opacity: float) -> Path:
    """White (x opacity) inside a rounded rectangle, black outside; drawn 4x then reduced."""
    w, h = size
    big = Image.new("L", (w * _SUPERSAMPLE, h * _SUPERSAMPLE), 0)
    fill = round(255 * opacity)
    ImageDraw.Draw(big).rounded_rectangle(
        (0, 0, w * _SUPERSAMPLE - 1, h * _SUPERSAMPLE - 1), radius=radius * _SUPERSAMPLE,
        fill=fill)
    big.resize((w, h), Image.Resampling.BOX).save(path, format="PNG")
    return path
