"""`ProvidersResource`: keys, base URLs, timeouts and poll policy; emulators when no key is set."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from dagster import ConfigurableResource
from pydantic import Field

from video_dagster.resources.providers import elevenlabs, heygen
from video_dagster.resources.providers.base import PollPolicy, ProviderError, RetryPolicy

_EMULATORS: Any = None
_EMULATORS_LOCK = threading.Lock()


def process_emulators() -> Any:
    """This process's loopback emulators, started on first use (offline demo and tests)."""
    global _EMULATORS
    with _EMULATORS_LOCK:
        if _EMULATORS is None:
            from video_dagster.emulators import server

            _EMULATORS = server.start()
        return _EMULATORS


@dataclass(frozen=True)
class Providers:
    """Ready-to-use clients; `emulated` names the providers served by the loopback emulators."""

    elevenlabs: elevenlabs.ElevenLabsClient
    heygen: heygen.HeyGenClient
    heygen_poll: PollPolicy
    emulated: frozenset[str]


class ProvidersResource(ConfigurableResource):  # type: ignore[type-arg]
    """Provider API access. A key left unset is read from the environment at run time; with no
    key there either, the bundled emulators serve that provider (unless `emulate` is `never`)."""

    elevenlabs_api_key: str | None = Field(
        default=None, description="ElevenLabs key; None = ELEVENLABS_API_KEY at run time.")
    elevenlabs_base_url: str | None = Field(
        default=None, description="ElevenLabs base URL; None = ELEVENLABS_BASE_URL or the API.")
    heygen_api_key: str | None = Field(
        default=None, description="HeyGen key; None = HEYGEN_API_KEY at run time.")
    heygen_base_url: str | None = Field(
        default=None, description="HeyGen base URL; None = HEYGEN_BASE_URL or the API.")
    emulate: Literal["auto", "never"] = Field(
        default="auto", description="`auto`: emulators serve providers without a key.")
    timeout: float = Field(default=120.0, description="Read timeout per request, seconds.")
    connect_timeout: float = Field(default=10.0, description="Connect timeout, seconds.")
    retry_attempts: int = Field(default=6, description="Attempts per call, the first included.")
    retry_base_delay: float = Field(default=0.5, description="First backoff delay, seconds.")
    retry_max_delay: float = Field(default=30.0, description="Backoff cap, seconds.")
    heygen_poll_interval: float = Field(default=10.0, description="First HeyGen poll delay, s.")
    heygen_poll_max_interval: float = Field(default=30.0, description="HeyGen poll cap, s.")
    heygen_timeout: float = Field(default=25 * 60.0, description="HeyGen render deadline, s.")

    def _retry(self) -> RetryPolicy:
        return RetryPolicy(self.retry_attempts, self.retry_base_delay, self.retry_max_delay)

    def _endpoint(self, name: str, key: str | None, url: str | None, default: str
                  ) -> tuple[str, str, bool]:
        key = key or os.environ.get(f"{name.upper()}_API_KEY") or None
        url = url or os.environ.get(f"{name.upper()}_BASE_URL") or None
        if key:
            return key, url or default, False
        if url:  # an emulator served elsewhere (`video-dagster emulators`)
            return "emulator-key", url, True
        if self.emulate == "never":
            raise ProviderError(name, "missing_api_key",
                                f"{name.upper()}_API_KEY is not set and emulation is off")
        emus = process_emulators()
        return "emulator-key", getattr(emus, f"{name}_url"), True

    def get_providers(self, transport: httpx.BaseTransport | None = None) -> Providers:
        """Clients for every provider (emulated where no key is configured)."""
        common: dict[str, Any] = {"timeout": self.timeout, "connect_timeout": self.connect_timeout,
                                  "retry": self._retry(), "transport": transport}
        el_key, el_url, el_emu = self._endpoint(
            "elevenlabs", self.elevenlabs_api_key, self.elevenlabs_base_url,
            elevenlabs.DEFAULT_BASE_URL)
        hg_key, hg_url, hg_emu = self._endpoint(
            "heygen", self.heygen_api_key, self.heygen_base_url, heygen.DEFAULT_BASE_URL)
        poll = PollPolicy(self.heygen_poll_interval, self.heygen_poll_max_interval,
                          self.heygen_timeout)
        if hg_emu:  # the emulator renders in well under a second
            poll = PollPolicy(min(poll.interval, 0.1), min(poll.max_interval, 0.5), poll.timeout)
        return Providers(
            elevenlabs.ElevenLabsClient.create(el_key, el_url, **common),
            heygen.HeyGenClient.create(hg_key, hg_url, **common),
            poll,
            frozenset(n for n, e in (("elevenlabs", el_emu), ("heygen", hg_emu)) if e),
        )
