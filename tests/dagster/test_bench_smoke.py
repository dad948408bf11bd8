"""The Definitions-load benchmark runs end to end and reports its ratio (no timing assertions)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "definitions_load.py"


def test_quick_bench_prints_a_ratio_against_the_target() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^200 nodes: loader \d+\.\d+s, plain specs \d+\.\d+s", done.stdout, re.M)
    assert re.search(r"^200 nodes ratio \d+\.\d+ \(target <= 1\.2\)", done.stdout, re.M)
