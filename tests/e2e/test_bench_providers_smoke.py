"""The provider benchmark runs end to end and prints its figures (no timing assertions)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "providers.py"


def test_quick_provider_bench_reports_overhead_and_pool(pg_server: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "DATABASE_URL": pg_server},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for node_type in ("generate-voiceover", "generate-talking-head"):
        assert re.search(rf"^{node_type}: orchestration overhead median -?\d+\.\d+s per node; "
                         r"node wall median \d+\.\d+s vs direct client calls \d+\.\d+s",
                         done.stdout, re.M), done.stdout[-2000:]
    assert re.search(r"^overhead target <= 0\.5s per node: (met|MISSED)", done.stdout, re.M)
    assert re.search(r"queued, pool video_elevenlabs capped at \d+: peak \d+ concurrent "
                     r"requests at the provider, all completed: True", done.stdout)
