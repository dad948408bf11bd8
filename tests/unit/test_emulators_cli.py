"""`video-dagster emulators` serves both emulators and prints how to point the project at them."""

from __future__ import annotations

import argparse
import re
import threading
import time

import httpx

from video_dagster.cli import build_parser
from video_dagster.emulators.cli import cmd_emulators


def _printed_urls(capsys, deadline: float) -> dict[str, str]:
    text = ""
    while True:
        text += capsys.readouterr().out
        found = dict(re.findall(r"export (\w+)_BASE_URL=(\S+)", text))
        if len(found) == 5:
            return found
        assert time.monotonic() < deadline, text
        time.sleep(0.05)


def test_emulators_command_serves_until_stopped(capsys):
    args = build_parser().parse_args(["emulators", "--api-key", "k1"])
    assert args.func is cmd_emulators
    stop = threading.Event()
    worker = threading.Thread(target=cmd_emulators, args=(argparse.Namespace(api_key="k1"), stop))
    worker.start()
    try:
        urls = _printed_urls(capsys, time.monotonic() + 20)
        bad = httpx.post(f"{urls['HEYGEN']}/v3/videos", json={}, headers={"x-api-key": "nope"})
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
        missing = httpx.post(f"{urls['ELEVENLABS']}/v1/text-to-speech/nobody",
                             json={"text": "x"}, headers={"xi-api-key": "k1"})
        assert missing.status_code == 404
        assert missing.json()["detail"]["status"] == "voice_not_found"
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
