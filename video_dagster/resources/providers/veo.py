"""Google Veo (PROVIDERS.md §4): Gemini API and Vertex AI long-running video generation."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from video_dagster.domain.costs import VEO_DURATIONS
from video_dagster.resources.providers.base import ProviderError, ProviderHTTP, safe_id

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
DURATIONS = VEO_DURATIONS
ASPECT_RATIOS = ("16:9", "9:16")  # `aspectRatio` on both backends (PROVIDERS.md §4.1)


def parse_error(response: httpx.Response) -> tuple[str, str]:
    """Google's `{error: {code, message, status}}`."""
    body = response.json()
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("status") or f"http_{response.status_code}"), str(
            err.get("message") or err.get("status"))
    return f"http_{response.status_code}", response.text[:300]


@dataclass(frozen=True)
class Operation:
    """A long-running operation reduced to: done, the videos, the safety filter, the error."""

    name: str
    done: bool
    uris: tuple[str, ...] = ()
    inline: tuple[bytes, ...] = ()
    gcs_uris: tuple[str, ...] = ()
    rai_filtered: int = 0
    rai_reasons: tuple[str, ...] = ()
    error: str | None = None


def image_part(data: bytes, mime: str) -> dict[str, str]:
    """An inline image (`bytesBase64Encoded`, the only form the Gemini API takes)."""
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": mime}


def _operation(body: Any, scrub: Callable[[str], str] = str) -> Operation:
    """The operation reduced; any other shape is a clear `bad_response`, never a crash."""
    if not isinstance(body, dict):
        raise ProviderError("veo", "bad_response", "operation is not a JSON object")
    name, done = safe_id("veo", body.get("name"), slashes=True), body.get("done") is True
    if not done:
        return Operation(name, False)
    try:
        return _finished(name, body, scrub)
    except (TypeError, ValueError, AttributeError, binascii.Error):
        raise ProviderError("veo", "bad_response", f"operation {name[-60:]} finished with a "
                            "result of an unexpected shape") from None


def _finished(name: str, body: dict[str, Any], scrub: Callable[[str], str]) -> Operation:
    if isinstance(body.get("error"), dict):
        err = body["error"]
        return Operation(name, True, error=scrub(str(err.get("message") or err.get("status"))))
    response: dict[str, Any] = body.get("response") or {}
    # Gemini nests the samples, Vertex does not.
    gen: dict[str, Any] = response.get("generateVideoResponse") or response
    uris, inline, gcs = [], [], []
    for sample in gen.get("generatedSamples") or []:
        video = sample.get("video") or {}
        if video.get("uri"):
            uris.append(str(video["uri"]))
        elif video.get("encodedVideo"):
            inline.append(base64.b64decode(video["encodedVideo"], validate=True))
    for video in gen.get("videos") or []:
        if video.get("bytesBase64Encoded"):
            inline.append(base64.b64decode(video["bytesBase64Encoded"], validate=True))
        elif video.get("gcsUri"):
            gcs.append(str(video["gcsUri"]))
    return Operation(name, True, tuple(uris), tuple(inline), tuple(gcs),
                     int(gen.get("raiMediaFilteredCount") or 0),
                     tuple(scrub(str(r)) for r in gen.get("raiMediaFilteredReasons") or ()))


class GeminiVeoClient:
    """Veo on the Gemini API: `x-goog-api-key`, `:predictLongRunning`, GET the operation."""

    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    @classmethod
    def create(cls, api_key: str, base_url: str = GEMINI_BASE_URL, **kwargs: Any
               ) -> GeminiVeoClient:
        """A client with its own connection pool."""
        return cls(ProviderHTTP.create("veo", base_url, {"x-goog-api-key": api_key},
                                       parse_error=parse_error, **kwargs))

    def submit(self, model: str, instance: dict[str, Any], parameters: dict[str, Any]) -> str:
        """Start a generation; returns the operation name. Billable, no idempotency key."""
        body = self.http.json("POST", f"/v1beta/models/{model}:predictLongRunning",
                              billable=True, json={"instances": [instance],
                                                   "parameters": parameters})
        return _operation(body, self.http.scrub).name

    def get(self, name: str) -> Operation:
        """`GET /v1beta/{operation name}`."""
        return _operation(self.http.json("GET", f"/v1beta/{safe_id('veo', name, slashes=True)}"),
                          self.http.scrub)

    def download(self, uri: str, dest: Path) -> int:
        """The file URI needs the key and redirects to the bytes; when the redirect target has
        expired (403/404), asking the file URI again yields a fresh one."""
        return self.http.download(uri, dest, with_auth=True, refresh=lambda: uri)


class VertexVeoClient:
    """Veo on Vertex AI: OAuth bearer token, `:predictLongRunning`, `:fetchPredictOperation`."""

    def __init__(self, http: ProviderHTTP, project: str, location: str) -> None:
        self.http = http
        self.prefix = f"/v1/projects/{project}/locations/{location}/publishers/google/models"

    @classmethod
    def create(cls, token: str | Callable[[], str], base_url: str, project: str, location: str,
               **kwargs: Any) -> VertexVeoClient:
        """A client with its own connection pool; `token` may be a source called per request
        (an ADC token refreshed near expiry)."""
        if callable(token):
            source = token
            http = ProviderHTTP.create(
                "vertex", base_url, {}, parse_error=parse_error,
                auth=lambda: {"Authorization": f"Bearer {source()}"}, **kwargs)
        else:
            http = ProviderHTTP.create("vertex", base_url, {"Authorization": f"Bearer {token}"},
                                       parse_error=parse_error, **kwargs)
        return cls(http, project, location)

    def submit(self, model: str, instance: dict[str, Any], parameters: dict[str, Any]) -> str:
        """Start a generation; returns the full operation name. Billable."""
        body = self.http.json("POST", f"{self.prefix}/{model}:predictLongRunning",
                              billable=True, json={"instances": [instance],
                                                   "parameters": parameters})
        return _operation(body, self.http.scrub).name

    def get(self, name: str) -> Operation:
        """`POST {model}:fetchPredictOperation {operationName}` (a POST, not a GET)."""
        safe_id("vertex", name, slashes=True)
        model = name.split("/models/", 1)[1].split("/", 1)[0] if "/models/" in name else ""
        return _operation(self.http.json("POST", f"{self.prefix}/{model}:fetchPredictOperation",
                                         json={"operationName": name}), self.http.scrub)
