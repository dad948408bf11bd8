"""Poster frames of video and image outputs, small enough to live in asset metadata."""

from __future__ import annotations

import base64
import subprocess
import tempfile
from pathlib import Path
from typing import Any

POSTER_WIDTH = 240
MAX_POSTER_BYTES = 48 * 1024  # event-log friendly; larger posters are dropped, not stored
MAX_SOURCE_BYTES = 256 * 1024 * 1024  # S3 objects are downloaded to make a poster


def poster_markdown(store: Any, key: str, title: str, seek: float = 0.5) -> str | None:
    """`![title](data:image/jpeg;base64,…)` of one frame, or None when none can be made."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory(prefix="vd-poster-") as tmp:
        if hasattr(store, "path"):
            source = Path(store.path(key))
        else:
            info = store.stat(key)
            if info is None or info.size > MAX_SOURCE_BYTES:
                return None
            source = Path(tmp) / "source"
            store.get_to_file(key, source)
        out = Path(tmp) / "poster.jpg"
        for offset in (seek, 0.0):  # a clip shorter than `seek` still has a first frame
            cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error",
                   "-ss", str(offset), "-i", str(source), "-frames:v", "1",
                   "-vf", f"scale={POSTER_WIDTH}:-2", "-q:v", "6", str(out)]
            done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
            if done.returncode == 0 and out.exists() and out.stat().st_size > 0:
                break
        else:
            return None
        data = out.read_bytes()
    if len(data) > MAX_POSTER_BYTES:
        return None
    alt = "".join(c for c in title if c not in "[]()") or "poster"
    return f"![{alt}](data:image/jpeg;base64,{base64.b64encode(data).decode()})"
