"""One set of emulators for every process of `video-dagster dev`, so a job one step or sensor
process submitted can be polled and resumed by another (each process starting its own would lose
it)."""

from __future__ import annotations

from collections.abc import Mapping

from video_dagster.emulators import server
from video_dagster.resources.providers.resource import EMULATOR_KEY

PROVIDERS = ("elevenlabs", "heygen", "gemini", "vertex", "runway")


def configured(name: str, environ: Mapping[str, str]) -> bool:
    """Whether the environment already points `name` at an API or endpoint of its own."""
    env = name.upper()
    names = [f"{env}_API_KEY", f"{env}_BASE_URL"]
    if name == "vertex":  # Vertex has no API key: a token, a project or ADC selects the real API
        names = ["VERTEX_ACCESS_TOKEN", "VERTEX_BASE_URL", "GOOGLE_CLOUD_PROJECT",
                 "GOOGLE_APPLICATION_CREDENTIALS"]
    return any(environ.get(n) for n in names)


def to_emulate(environ: Mapping[str, str]) -> list[str]:
    """Providers with neither a key nor a base URL in `environ`, in a fixed order."""
    return [name for name in PROVIDERS if not configured(name, environ)]


def environment(emus: server.Emulators, names: list[str]) -> dict[str, str]:
    """`<PROVIDER>_BASE_URL` for each emulated provider (no key: the URL alone means emulator)."""
    urls = {"elevenlabs": emus.elevenlabs_url, "heygen": emus.heygen_url,
            "gemini": emus.veo_url, "vertex": emus.veo_url, "runway": emus.runway_url}
    return {f"{name.upper()}_BASE_URL": urls[name] for name in names}


def start(environ: Mapping[str, str]) -> tuple[server.Emulators | None, dict[str, str], str]:
    """Start the emulators when some provider needs them: (emulators, env to add, one line)."""
    names = to_emulate(environ)
    if not names:
        return None, {}, "providers: all configured from the environment (no emulator)"
    emus = server.start(EMULATOR_KEY)
    env = environment(emus, names)
    where = ", ".join(f"{name} {env[f'{name.upper()}_BASE_URL']}" for name in names)
    return emus, env, f"providers emulated on loopback (no key or URL set): {where}"
