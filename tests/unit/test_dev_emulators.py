"""`video-dagster dev` runs one set of emulators for all its processes; configured providers are
left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from video_dagster.emulators import shared

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_ENV = ("API_KEY", "BASE_URL", "ACCESS_TOKEN")


def _clean(environ) -> dict[str, str]:
    """`environ` without any provider setting (what a fresh shell without keys has)."""
    drop = {f"{p.upper()}_{s}" for p in shared.PROVIDERS for s in PROVIDER_ENV}
    drop |= {"GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS"}
    return {k: v for k, v in environ.items() if k not in drop}


def test_only_unconfigured_providers_are_emulated():
    environ = {"HEYGEN_API_KEY": "real-key", "RUNWAY_BASE_URL": "https://runway.example",
               "GOOGLE_CLOUD_PROJECT": "my-project", "ELEVENLABS_API_KEY": ""}
    assert shared.to_emulate(environ) == ["elevenlabs", "gemini"]
    assert shared.to_emulate({"GOOGLE_APPLICATION_CREDENTIALS": "/sa.json"}) == [
        "elevenlabs", "heygen", "gemini", "runway"]
    everything = {"ELEVENLABS_API_KEY": "k", "HEYGEN_API_KEY": "k", "GEMINI_API_KEY": "k",
                  "VERTEX_ACCESS_TOKEN": "t", "RUNWAY_API_KEY": "k"}
    emus, env, line = shared.start(everything)
    assert emus is None and env == {} and "no emulator" in line


def test_environment_never_overrides_a_user_setting():
    environ = _clean(os.environ) | {"HEYGEN_API_KEY": "real-key", "GEMINI_BASE_URL": "http://x"}
    emus, env, line = shared.start(environ)
    try:
        assert emus is not None
        assert set(env) == {"ELEVENLABS_BASE_URL", "VERTEX_BASE_URL", "RUNWAY_BASE_URL"}
        assert env["VERTEX_BASE_URL"] == emus.veo_url
        assert env["RUNWAY_BASE_URL"] == emus.runway_url
        assert not any(k.endswith("_API_KEY") for k in env)  # no key: the URL means emulator
        assert f"runway {emus.runway_url}" in line and "heygen" not in line
    finally:
        if emus is not None:
            emus.stop()


def _step(env: dict[str, str], *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.unit._shared_emulator_runner", *args],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_job_submitted_by_one_process_is_polled_by_another():
    environ = _clean(os.environ)
    emus, env, _ = shared.start(environ)
    assert emus is not None
    emus.runway.hold = True  # keep the task running: no render needed to see it
    try:
        first = _step(environ | env, "submit")
        second = _step(environ | env, "get", first["task"])
        assert first["emulated"] == second["emulated"] == ["runway"]
        assert second == {**first, "status": "RUNNING"}
        assert emus.runway.submits == 1
        # Without the shared environment each process starts its own emulator: the job is lost.
        alone = _step(environ, "get", first["task"])
        assert alone["status"].startswith("error")
    finally:
        emus.stop()
