"""`video-dagster emulators`: serve the provider emulators until interrupted."""

from __future__ import annotations

import argparse
import threading
from typing import Any


def register(sub: Any) -> None:
    """Add the `emulators` sub-command to the CLI's sub-parsers."""
    from video_dagster.cli.common import add_command

    p = add_command(sub, "emulators", "Serve the provider emulators on loopback until Ctrl-C.",
                    "video-dagster emulators   # then export the printed *_BASE_URL lines")
    p.add_argument("--api-key", default="emulator-key", help="key the emulators accept")
    p.set_defaults(func=cmd_emulators)


def cmd_emulators(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Start both emulators, print the environment that points the project at them, serve."""
    from video_dagster.emulators import server

    emus = server.start(args.api_key)
    print("Provider emulators on loopback; point video-dagster at them with:")  # noqa: T201
    for name, url in (("ELEVENLABS", emus.elevenlabs_url), ("HEYGEN", emus.heygen_url),
                      ("GEMINI", emus.veo_url), ("VERTEX", emus.veo_url),
                      ("RUNWAY", emus.runway_url)):
        print(f"  export {name}_BASE_URL={url} {name}_API_KEY={args.api_key}")  # noqa: T201
    print("Ctrl-C stops them.", flush=True)  # noqa: T201
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        emus.stop()
    return 0
