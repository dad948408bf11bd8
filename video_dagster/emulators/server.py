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

from video_dagster.emulators import elevenlabs, heygen, runway, veo


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
    """The running provider emulators with their state and URLs."""

    elevenlabs: elevenlabs.ElevenLabsState
    heygen: heygen.HeyGenState
    veo: veo.VeoState
    runway: runway.RunwayState
    servers: tuple[LoopbackServer, ...]

    @property
    def veo_url(self) -> str:
        """Base URL of the Veo emulator (Gemini API and Vertex paths)."""
        return self.veo.base_url

    @property
    def runway_url(self) -> str:
        """Base URL of the Runway emulator."""
        return self.runway.base_url

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
    """Start every emulator; they accept `api_key` (Vertex: `Bearer <api_key>`)."""
    el_state = elevenlabs.ElevenLabsState(api_key=api_key)
    hg_state = heygen.HeyGenState(api_key=api_key)
    veo_state = veo.VeoState(api_key=api_key, vertex_token=api_key)
    rw_state = runway.RunwayState(api_key=api_key)
    pairs: tuple[tuple[Any, Any], ...] = (
        (el_state, elevenlabs), (hg_state, heygen), (veo_state, veo), (rw_state, runway))
    servers = []
    for state, module in pairs:
        server = LoopbackServer(module.build_app(state)).start()
        state.base_url = server.url
        servers.append(server)
    veo_state.files_origin = veo_state.base_url.replace("127.0.0.1", "localhost")
    return Emulators(el_state, hg_state, veo_state, rw_state, tuple(servers))


@contextmanager
def running(api_key: str = "emulator-key") -> Iterator[Emulators]:
    """Both emulators for the duration of the block."""
    emus = start(api_key)
    try:
        yield emus
    finally:
        emus.stop()
