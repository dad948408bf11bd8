"""domain/ is pure: importing every module in it pulls in no I/O or orchestration library."""

from __future__ import annotations

import json
import subprocess
import sys

BANNED = ("dagster", "boto3", "psycopg", "psycopg2", "sqlalchemy", "httpx")

PROBE = """
import importlib, json, pkgutil, sys
import video_dagster.domain as domain
names = [m.name for m in pkgutil.walk_packages(domain.__path__, domain.__name__ + ".")]
for name in names:
    importlib.import_module(name)
banned = tuple(sys.argv[1:])
leaked = sorted(m for m in sys.modules if m.split(".")[0] in banned)
print(json.dumps({"modules": names, "leaked": leaked}))
"""


def test_domain_imports_no_io_libraries() -> None:
    # A fresh interpreter: this test process may already have imported dagster elsewhere.
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *BANNED],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"video_dagster.domain.nodes", "video_dagster.domain.validation",
            "video_dagster.domain.readiness"} <= set(report["modules"])
    assert report["leaked"] == []
