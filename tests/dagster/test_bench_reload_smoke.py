"""The reload benchmark runs end to end against both servers (no timing assertions)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "code_server_reload.py"


def test_quick_reload_bench_reports_both_servers_and_their_ratio(pg_server: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], env={**os.environ, "DATABASE_URL": pg_server},
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^in place \(ours\): reload \d+\.\d+s median", done.stdout, re.M)
    assert re.search(r"^new process \(code-server start\): reload \d+\.\d+s median",
                     done.stdout, re.M)
    assert re.search(r"^reload in place / new process: \d+\.\d+x the time$", done.stdout, re.M)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["nodes"] == 106  # 100 seeded + 2 per reload, each server served them all
