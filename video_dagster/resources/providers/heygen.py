"""HeyGen v3 avatar videos (PROVIDERS.md §3): upload an asset, submit, poll, download."""

from __future__ import annotations

import math
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from video_dagster.resources.providers.base import (
    RETRYABLE_STATUS,
    ProviderError,
    ProviderHTTP,
    safe_id,
)

DEFAULT_BASE_URL = "https://api.heygen.com"

# v3 statuses → the shared state machine (queued → running → succeeded | failed).
STATES = {"waiting": "queued", "pending": "queued", "queued": "queued",
          "processing": "running", "completed": "succeeded", "failed": "failed",
          "not_found": "failed"}


def parse_error(response: httpx.Response) -> tuple[str, str]:
    """The v3 envelope `{error: {code, message, param?, doc_url}}`."""
    body = response.json()
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("code") or f"http_{response.status_code}"), str(
            err.get("message") or err.get("code"))
    return f"http_{response.status_code}", response.text[:300]


def is_retryable(response: httpx.Response, code: str) -> bool:
    """429/5xx, and 409 `request_in_progress`: the first request with this Idempotency-Key is
    still being processed, so the resend waits for its outcome instead of failing the node."""
    if response.status_code == 409:
        return code == "request_in_progress"
    return response.status_code in RETRYABLE_STATUS


@dataclass(frozen=True)
class VideoStatus:
    """`GET /v3/videos/{id}` reduced to what the executor needs."""

    video_id: str
    state: str  # queued | running | succeeded | failed
    raw_status: str
    video_url: str | None
    duration: float | None
    failure: str | None


def resolution_for(width: int, height: int) -> tuple[str, str]:
    """v3 `resolution` and `aspect_ratio` from a requested frame size."""
    short = min(width, height)
    resolution = "4k" if short > 1080 else "1080p" if short > 720 else "720p"
    ratios = {(16, 9): "16:9", (9, 16): "9:16", (4, 5): "4:5", (5, 4): "5:4", (1, 1): "1:1"}
    best = min(ratios, key=lambda r: abs(r[0] / r[1] - width / height))
    return resolution, ratios[best]


class HeyGenClient:
    """HeyGen v3 with `x-api-key`."""

    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    @classmethod
    def create(cls, api_key: str, base_url: str = DEFAULT_BASE_URL, **kwargs: Any
               ) -> HeyGenClient:
        """A client with its own connection pool."""
        http = ProviderHTTP.create("heygen", base_url, {"x-api-key": api_key},
                                   parse_error=parse_error, retryable=is_retryable, **kwargs)
        return cls(http)

    def upload_asset(self, path: Path, idempotency_key: str) -> str:
        """`POST /v3/assets` (multipart `file`) → asset_id. Uploads are free; keyed anyway."""
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # Bytes, not a file handle, so that a retry resends the whole file (max 32 MB).
        body = self.http.json("POST", "/v3/assets", idempotency_key=idempotency_key,
                              files={"file": (path.name, path.read_bytes(), mime)})
        return safe_id("heygen", _data(body, self.http.provider).get("asset_id"))

    def create_video(self, payload: dict[str, Any], idempotency_key: str) -> str:
        """`POST /v3/videos` → video_id. Billable: sent with an Idempotency-Key so a resend after
        a lost response returns the same video instead of a second one."""
        body = self.http.json("POST", "/v3/videos", billable=True,
                              idempotency_key=idempotency_key, json=payload)
        return safe_id("heygen", _data(body, "heygen").get("video_id"))

    def get_video(self, video_id: str) -> VideoStatus:
        """`GET /v3/videos/{id}`."""
        safe_id("heygen", video_id)
        data = _data(self.http.json("GET", f"/v3/videos/{video_id}"), "heygen")
        # The status becomes metadata.stage: a short plain word, whatever the provider sends.
        raw = str(data.get("status") or "")[:40]
        if not raw:  # an unknown word may be a new state; no status at all is a broken reply
            raise ProviderError("heygen", "bad_response", f"video {video_id} has no status")
        duration = data.get("duration")
        if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
            duration = None
        failure = data.get("failure_message") or data.get("failure_code")
        return VideoStatus(video_id, STATES.get(raw, "running"), raw,
                           data.get("video_url") if isinstance(data.get("video_url"), str)
                           else None,
                           float(duration) if duration is not None else None,
                           self.http.scrub(str(failure)) if failure else None)

    def download(self, status: VideoStatus, dest: Path) -> int:
        """Download the presigned `video_url`; a 403/404 (expired) re-polls for a fresh one."""
        if not status.video_url:
            raise ProviderError("heygen", "bad_response", "completed video has no video_url")

        def fresh() -> str:
            url = self.get_video(status.video_id).video_url
            if not url:
                raise ProviderError("heygen", "bad_response", "no fresh video_url")
            return url

        return self.http.download(status.video_url, dest, refresh=fresh)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def _data(body: Any, provider: str) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise ProviderError(provider, "bad_response", "response has no data object")
    return data
