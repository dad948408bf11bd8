"""The lifecycle benchmark runs end to end and prints its ratios (no timing assertions)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "lifecycle.py"


def test_quick_bench_prints_rates_and_ratios(pg_server: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--workers", "2"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "DATABASE_URL": pg_server},
    )
    assert done.returncode == 0, done.stderr
    for kind in ("threads", "processes"):
        assert re.search(rf"^\[{kind}\] raw UPDATE baseline: \d+\.\d updates/s", done.stdout, re.M)
        assert re.search(rf"^\[{kind}\] \(a\) spread over 1000 nodes: \d+\.\d transitions/s",
                         done.stdout, re.M)
        assert re.search(rf"^\[{kind}\] \(b\) one node, contended: \d+\.\d transitions/s "
                         r"\(\d+\.\d applied/s", done.stdout, re.M)
        assert re.search(rf"^\[{kind}\] ratio \(a\)/raw \d+\.\d\d \(target >= 0\.5\)",
                         done.stdout, re.M)
        assert re.search(rf"^\[{kind}\] ratio \(b\)/raw \d+\.\d\d$", done.stdout, re.M)
