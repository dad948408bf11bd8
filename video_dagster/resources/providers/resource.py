"""`ProvidersResource`: keys, base URLs, timeouts and poll policy; emulators when no key is set."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any, Literal

import httpx
from dagster import ConfigurableResource
from pydantic import Field

from video_dagster.resources.providers import elevenlabs, heygen, runway, veo
from video_dagster.resources.providers.base import PollPolicy, ProviderError, RetryPolicy

_EMULATORS: Any = None
_EMULATORS_LOCK = threading.Lock()
EMULATOR_KEY = "emulator-key"


def process_emulators() -> Any:
    """This process's loopback emulators, started on first use (offline demo and tests)."""
    global _EMULATORS
    with _EMULATORS_LOCK:
        if _EMULATORS is None:
            from video_dagster.emulators import server

            _EMULATORS = server.start(EMULATOR_KEY)
        return _EMULATORS


class Providers:
    """Clients built on first use; `emulated` names the providers the emulators serve."""

    def __init__(self, resource: ProvidersResource, transport: httpx.BaseTransport | None
                 ) -> None:
        self._r = resource
        self._common: dict[str, Any] = {
            "timeout": resource.timeout, "connect_timeout": resource.connect_timeout,
            "retry": RetryPolicy(resource.retry_attempts, resource.retry_base_delay,
                                 resource.retry_max_delay),
            "transport": transport}
        self.emulated: set[str] = set()

    def _endpoint(self, name: str, key: str | None, url: str | None, default: str
                  ) -> tuple[str, str]:
        env = name.upper()
        key = key or os.environ.get(f"{env}_API_KEY") or None
        url = url or os.environ.get(f"{env}_BASE_URL") or None
        if key:
            return key, url or default
        if url:  # an emulator served elsewhere (`video-dagster emulators`, or `dev` for all)
            self.emulated.add(name)
            return EMULATOR_KEY, url
        if self._r.emulate == "never":
            raise ProviderError(name, "missing_api_key",
                                f"{env}_API_KEY is not set and emulation is off")
        self.emulated.add(name)
        emus = process_emulators()
        return EMULATOR_KEY, {"gemini": emus.veo_url, "vertex": emus.veo_url}.get(
            name) or getattr(emus, f"{name}_url")

    def poll(self, name: str) -> PollPolicy:
        """The poll policy of an asynchronous provider (fast against an emulator)."""
        r = self._r
        interval, cap, timeout = {
            "heygen": (r.heygen_poll_interval, r.heygen_poll_max_interval, r.heygen_timeout),
            "runway": (r.runway_poll_interval, r.runway_poll_max_interval, r.runway_timeout),
        }.get(name, (r.veo_poll_interval, r.veo_poll_max_interval, r.veo_timeout))
        if name in self.emulated or (name == "veo" and self.emulated & {"gemini", "vertex"}):
            return PollPolicy(min(interval, 0.1), min(cap, 0.5), timeout)
        return PollPolicy(interval, cap, timeout)

    @cached_property
    def elevenlabs(self) -> elevenlabs.ElevenLabsClient:
        """ElevenLabs text-to-speech."""
        key, url = self._endpoint("elevenlabs", self._r.elevenlabs_api_key,
                                  self._r.elevenlabs_base_url, elevenlabs.DEFAULT_BASE_URL)
        return elevenlabs.ElevenLabsClient.create(key, url, **self._common)

    @cached_property
    def heygen(self) -> heygen.HeyGenClient:
        """HeyGen v3."""
        key, url = self._endpoint("heygen", self._r.heygen_api_key, self._r.heygen_base_url,
                                  heygen.DEFAULT_BASE_URL)
        return heygen.HeyGenClient.create(key, url, **self._common)

    @property
    def heygen_poll(self) -> PollPolicy:
        """HeyGen's poll policy."""
        return self.poll("heygen")

    @cached_property
    def gemini(self) -> veo.GeminiVeoClient:
        """Veo on the Gemini API."""
        key, url = self._endpoint("gemini", self._r.gemini_api_key, self._r.gemini_base_url,
                                  veo.GEMINI_BASE_URL)
        return veo.GeminiVeoClient.create(key, url, **self._common)

    @cached_property
    def vertex(self) -> veo.VertexVeoClient:
        """Veo on Vertex AI (token from VERTEX_ACCESS_TOKEN, else ADC)."""
        r = self._r
        location = r.vertex_location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
        project = r.vertex_project or os.environ.get("GOOGLE_CLOUD_PROJECT") or ""
        default = (f"https://{location}-aiplatform.googleapis.com" if location != "global"
                   else "https://aiplatform.googleapis.com")
        token: str | Callable[[], str] | None = (
            r.vertex_access_token or os.environ.get("VERTEX_ACCESS_TOKEN") or None)
        url = r.vertex_base_url or os.environ.get("VERTEX_BASE_URL") or None
        # A project or an ADC file means the real API (or a private endpoint) with real auth.
        real = bool(project or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
        if token is None and url is None and r.emulate == "auto" and not real:
            token, url = self._endpoint("vertex", None, None, default)
        elif token is None and url is not None and not real:
            token = EMULATOR_KEY
            self.emulated.add("vertex")
        if token is None:
            from video_dagster.resources.providers.adc import adc_token

            source = adc_token()
            token, project = source, project or source.project
            if not project:
                raise ProviderError("vertex", "missing_project",
                                    "set GOOGLE_CLOUD_PROJECT (the Vertex project)")
        return veo.VertexVeoClient.create(token, url or default, project or "emulated",
                                          location, **self._common)

    @cached_property
    def runway(self) -> runway.RunwayClient:
        """Runway."""
        key, url = self._endpoint("runway", self._r.runway_api_key, self._r.runway_base_url,
                                  runway.DEFAULT_BASE_URL)
        return runway.RunwayClient.create(key, url, **self._common)


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
    gemini_api_key: str | None = Field(
        default=None, description="Gemini API key (Veo); None = GEMINI_API_KEY at run time.")
    gemini_base_url: str | None = Field(
        default=None, description="Gemini API base URL; None = GEMINI_BASE_URL or Google.")
    vertex_access_token: str | None = Field(
        default=None, description="Vertex OAuth token; None = VERTEX_ACCESS_TOKEN, else ADC.")
    vertex_base_url: str | None = Field(
        default=None, description="Vertex base URL; None = VERTEX_BASE_URL or the regional host.")
    vertex_project: str | None = Field(
        default=None, description="Vertex project; None = GOOGLE_CLOUD_PROJECT.")
    vertex_location: str | None = Field(
        default=None, description="Vertex location; None = GOOGLE_CLOUD_LOCATION or us-central1.")
    runway_api_key: str | None = Field(
        default=None, description="Runway key; None = RUNWAY_API_KEY at run time.")
    runway_base_url: str | None = Field(
        default=None, description="Runway base URL; None = RUNWAY_BASE_URL or the API.")
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
    veo_poll_interval: float = Field(default=10.0, description="First Veo poll delay, s.")
    veo_poll_max_interval: float = Field(default=20.0, description="Veo poll cap, s.")
    veo_timeout: float = Field(default=12 * 60.0, description="Veo generation deadline, s.")
    runway_poll_interval: float = Field(default=6.0, description="First Runway poll (>= 5 s).")
    runway_poll_max_interval: float = Field(default=15.0, description="Runway poll cap, s.")
    runway_timeout: float = Field(default=12 * 60.0, description="Runway task deadline, s.")

    def get_providers(self, transport: httpx.BaseTransport | None = None) -> Providers:
        """Clients for every provider, built on first use (emulated where no key is set)."""
        return Providers(self, transport)
