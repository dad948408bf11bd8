"""Run emulator apps on loopback (free ports) in a background thread, or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from video_dagster.emulators import elevenlabs, heygen


class LoopbackServer:
    """One uvicorn server on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._sock = sock
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True, name=f"emulator-{self.port}")

    def start(self) -> LoopbackServer:
        """Start and wait until it accepts requests."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop and join."""
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self._sock.close()


@dataclass
class Emulators:
    """The running ElevenLabs and HeyGen emulators with their state and URLs."""

    elevenlabs: elevenlabs.ElevenLabsState
    heygen: heygen.HeyGenState
    servers: tuple[LoopbackServer, ...]

    @property
    def elevenlabs_url(self) -> str:
        """Base URL of the ElevenLabs emulator."""
        return self.elevenlabs.base_url

    @property
    def heygen_url(self) -> str:
        """Base URL of the HeyGen emulator."""
        return self.heygen.base_url

    def stop(self) -> None:
        """Stop every server."""
        for server in self.servers:
            server.stop()


def start(api_key: str = "emulator-key") -> Emulators:
    """Start both emulators; they accept `api_key`."""
    el_state = elevenlabs.ElevenLabsState(api_key=api_key)
    hg_state = heygen.HeyGenState(api_key=api_key)
    servers = []
    for state, module in ((el_state, elevenlabs), (hg_state, heygen)):
        server = LoopbackServer(module.build_app(state)).start()
        state.base_url = server.url
        servers.append(server)
    return Emulators(el_state, hg_state, tuple(servers))


@contextmanager
def running(api_key: str = "emulator-key") -> Iterator[Emulators]:
    """Both emulators for the duration of the block."""
    emus = start(api_key)
    try:
        yield emus
    finally:
        emus.stop()
