"""`bench/merge.py --quick` runs end to end and prints its comparisons (numbers not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_quick_prints_ratio_lines(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "merge.py"), "--quick", "--tmp", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "ratio handler/bare:" in out
    assert "peak RSS, whole process tree" in out and "ratio peak RSS / input size:" in out
    assert list(tmp_path.iterdir()) == []  # the bench removed its files
