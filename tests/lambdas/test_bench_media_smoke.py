"""`bench/media.py --quick` runs end to end and prints its comparisons (numbers not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_media_quick_prints_every_comparison(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "media.py"), "--quick", "--tmp", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for name in ("audio_mixer", "video_composer", "video_merger crossfade"):
        assert f"  {name}" in out and "ratio" in out
    assert out.count("peak RSS, whole process tree") == 3
    assert "x real time per CPU second" in out
    assert list(tmp_path.iterdir()) == []  # the bench removed its files
