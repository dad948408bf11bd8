"""The Definitions-load benchmark runs end to end and reports its ratio (no timing assertions)."""

from __future__ import annotations

import json
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
    # The translation's own overhead, against Dagster's floor of one bare executable asset/node.
    assert re.search(r"minimal executable \d+\.\d+s \(median of 2\)", done.stdout)
    assert re.search(
        r"^200 nodes translation overhead: loader / minimal executable \d+\.\d+; "
        r"Dagster floor: minimal executable / plain specs \d+\.\d+$", done.stdout, re.M,
    )
    assert re.search(r"^200 nodes GC paused\+frozen: loader \d+\.\d+s vs default collector "
                     r"\d+\.\d+s, ratio \d+\.\d+$", done.stdout, re.M)
    assert "option" not in done.stdout


def test_options_build_and_report_every_alternative() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--options"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("(b) multi_asset per pipeline", "(c) graph-backed asset per pipeline",
                 "one multi_asset for all nodes"):
        pattern = rf"^200 nodes option {re.escape(name)}: \d+\.\d+s, \d+\.\d+x plain specs"
        assert re.search(pattern, done.stdout, re.M), done.stdout


def test_peak_rss_child_reports_the_load() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rss-child", "200"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["peak"] > figures["before"] > 0
