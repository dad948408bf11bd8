"""`bench/sensor_tick.py --quick` builds its database, times every sensor query, and cleans up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sensor_bench_quick_prints_every_query() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sensor_tick.py"), "--quick", "--repeats", "2"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "built 5000 nodes in 250 pipelines" in out
    for label in ("ready-node query", "validation-needed query", "reaper query",
                  "run-failure in_progress-by-run-id query", "run-failure orphan sweep query"):
        assert f"{label}: median " in out, label
    assert out.count("ratio to the 100 ms target:") == 6
    assert out.count("uses an index: ") == 6
    assert "worst sensor query:" in out
