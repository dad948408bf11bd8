"""ElevenLabs text-to-speech (PROVIDERS.md §2): synchronous, audio bytes in the response."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from video_dagster.resources.providers.base import RETRYABLE_STATUS, ProviderError, ProviderHTTP

# About 16 KB/s at 128 kbps, 192 KB/s for 48 kHz WAV: far beyond any real clip of a 40k-character
# request, so a runaway body is cut instead of filling the disk.
MAX_AUDIO_BYTES = 512 << 20
# A 200 that is not audio (an HTML error page, JSON from a proxy) must not be stored as speech.
_NOT_AUDIO = ("text/", "application/json", "application/xml", "application/xhtml")

DEFAULT_BASE_URL = "https://api.elevenlabs.io"

# Per-request character caps (help centre); unknown models get the smallest documented one.
CHARACTER_LIMITS = {"eleven_flash_v2_5": 40_000, "eleven_turbo_v2_5": 40_000,
                    "eleven_flash_v2": 30_000, "eleven_turbo_v2": 30_000,
                    "eleven_multilingual_v2": 10_000}
DEFAULT_CHARACTER_LIMIT = 5_000


def parse_error(response: httpx.Response) -> tuple[str, str]:
    """`{detail: {status, message}}` or the 422 `{detail: [{loc, msg}]}` list."""
    body = response.json()
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        return str(detail.get("status") or f"http_{response.status_code}"), str(
            detail.get("message") or detail.get("status"))
    if isinstance(detail, list):
        msgs = [f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail
                if isinstance(d, dict)]
        return "validation_error", "; ".join(msgs) or "invalid request"
    return f"http_{response.status_code}", response.text[:300]


def is_retryable(response: httpx.Response, code: str) -> bool:
    """Concurrency and load 429s and 5xx are retried; quota, voice and key errors are not."""
    if code in ("quota_exceeded", "voice_not_found", "invalid_api_key",
                "max_character_limit_exceeded"):
        return False
    return response.status_code in RETRYABLE_STATUS


@dataclass(frozen=True)
class Speech:
    """One synthesized clip, written to `path`."""

    path: Path
    size: int
    content_type: str
    request_id: str | None
    history_item_id: str | None
    character_cost: float | None


def split_text(text: str, limit: int) -> list[str]:
    """Split at sentence boundaries into chunks of at most `limit` characters."""
    sentences = re.split(r"(?<=[.!?…])\s+", text.strip())
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > limit:  # one huge sentence: cut at the last space before the cap
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                chunks.append(current)
                current = ""
            chunks.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        candidate = f"{current} {sentence}".strip() if current else sentence
        if len(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = sentence
    if current:
        chunks.append(current)
    return [c for c in chunks if c]


class ElevenLabsClient:
    """`POST /v1/text-to-speech/{voice_id}` with `xi-api-key`."""

    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    @classmethod
    def create(cls, api_key: str, base_url: str = DEFAULT_BASE_URL, **kwargs: Any
               ) -> ElevenLabsClient:
        """A client with its own connection pool."""
        http = ProviderHTTP.create("elevenlabs", base_url, {"xi-api-key": api_key},
                                   parse_error=parse_error, retryable=is_retryable, **kwargs)
        return cls(http)

    def speak(self, voice_id: str, body: dict[str, Any], output_format: str, dest: Path
              ) -> Speech:
        """Synthesize `body["text"]` into `dest`, streamed. Billable, and ElevenLabs has no
        idempotency key: resent only when clearly rejected (429/503) or never sent."""
        response = self.http.request(
            "POST", f"/v1/text-to-speech/{voice_id}", billable=True, stream=True,
            params={"output_format": output_format}, json=body,
        )
        try:
            speech = self._save(response, dest)
            text = body.get("text")
            # A character-cost far above any model's rate is not a figure to bill by.
            if speech.character_cost is not None and isinstance(text, str) and (
                    speech.character_cost > 10 * len(text) + 10):
                speech = replace(speech, character_cost=None)
            return speech
        except httpx.TransportError as exc:
            # Billed, but the body was cut: not resent (it would bill again).
            raise ProviderError("elevenlabs", "outcome_unknown", "the audio download was cut "
                                f"off ({type(exc).__name__}); not resent to avoid paying twice"
                                ) from None
        finally:
            response.close()

    def _save(self, response: httpx.Response, dest: Path) -> Speech:
        kind = response.headers.get("content-type", "").lower()
        if kind.startswith(_NOT_AUDIO):
            raise ProviderError("elevenlabs", "bad_response", "text-to-speech answered 200 "
                                f"with {kind.split(';')[0]} instead of audio")
        return self._speech(response, dest, self.http.save(response, dest, 1 << 16,
                                                             MAX_AUDIO_BYTES))

    @staticmethod
    def _speech(response: httpx.Response, dest: Path, size: int) -> Speech:
        cost = response.headers.get("character-cost")
        try:
            credits = float(cost) if cost is not None else None
        except ValueError:
            credits = None
        if credits is not None and not 0 <= credits < 1e9:  # nan, inf, negative: not a cost
            credits = None
        request_id = response.headers.get("request-id")
        if request_id is not None and len(request_id) > 128:  # stored in metadata, sent back
            request_id = None
        return Speech(dest, size, response.headers.get("content-type", "audio/mpeg"),
                      request_id, response.headers.get("history-item-id", "")[:128] or None,
                      credits)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
