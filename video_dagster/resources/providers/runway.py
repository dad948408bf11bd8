"""Runway (PROVIDERS.md §5): image/text to video tasks, polled, cancellable."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from video_dagster.resources.providers.base import ProviderError, ProviderHTTP, safe_id

DEFAULT_BASE_URL = "https://api.dev.runwayml.com"
API_VERSION = "2024-11-06"
STATES = {"PENDING": "queued", "THROTTLED": "queued", "RUNNING": "running",
          "SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELLED": "failed"}
# Allowed durations per model (seconds); others take any whole number in their range.
DURATIONS: dict[str, tuple[int, ...]] = {
    "veo3": (8,), "veo3.1": (4, 6, 8), "veo3.1_fast": (4, 6, 8), "gen4_turbo": (5, 10),
    "gen4.5": tuple(range(2, 11)), "gemini_omni_flash": tuple(range(3, 11)),
}
RATIOS = {"16:9": "1280:720", "9:16": "720:1280", "1:1": "960:960"}
# `ratio` values each model family accepts (PROVIDERS.md §5.1); a model not listed: any of RATIOS.
_GEN4_I2V = frozenset({"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"})
_VEO = frozenset({"1280:720", "720:1280", "1080:1920", "1920:1080"})
MODEL_RATIOS: dict[tuple[str, bool], frozenset[str]] = {
    ("gen4.5", True): _GEN4_I2V, ("gen4_turbo", True): _GEN4_I2V,
    ("gen4.5", False): frozenset({"1280:720", "720:1280"}),
    **{(m, i): _VEO for m in ("veo3", "veo3.1", "veo3.1_fast") for i in (True, False)},
}


PROMPT_LIMIT = 1000  # promptText, in UTF-16 code units (PROVIDERS.md §5.1)


def utf16_units(text: str) -> int:
    """Length as Runway counts it: characters outside the BMP (emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def prompt_text(text: str) -> str:
    """`text` cut to PROMPT_LIMIT UTF-16 units (a code-point slice lets emoji overflow it)."""
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > PROMPT_LIMIT:
            return text[:i]
    return text


def allowed_ratios(model: str, with_image: bool) -> frozenset[str]:
    """The `ratio` values `model` takes for image-to-video (`with_image`) or text-to-video."""
    return MODEL_RATIOS.get((model, with_image), frozenset(RATIOS.values()))


def ratio_for(model: str, aspect: str, with_image: bool) -> str | None:
    """Runway's `ratio` for an aspect such as "16:9", or None when the model cannot make it."""
    ratio = RATIOS.get(aspect)
    return ratio if ratio in allowed_ratios(model, with_image) else None


def parse_error(response: httpx.Response) -> tuple[str, str]:
    """Runway's `{error: "<human text>"}`."""
    body = response.json()
    message = body.get("error") if isinstance(body, dict) else None
    return f"http_{response.status_code}", str(message or response.text[:300])


@dataclass(frozen=True)
class Task:
    """`GET /v1/tasks/{id}` reduced."""

    id: str
    state: str
    status: str
    progress: float | None
    outputs: tuple[str, ...]
    failure: str | None
    failure_code: str | None


class RunwayClient:
    """Runway with `Authorization: Bearer` and the pinned `X-Runway-Version`."""

    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    @classmethod
    def create(cls, api_key: str, base_url: str = DEFAULT_BASE_URL, **kwargs: Any
               ) -> RunwayClient:
        """A client with its own connection pool."""
        return cls(ProviderHTTP.create(
            "runway", base_url, {"Authorization": f"Bearer {api_key}",
                                 "X-Runway-Version": API_VERSION},
            parse_error=parse_error, **kwargs))

    def submit(self, body: dict[str, Any]) -> str:
        """`POST /v1/image_to_video` (with promptImage) or `/v1/text_to_video` → task id."""
        path = "/v1/image_to_video" if body.get("promptImage") else "/v1/text_to_video"
        got = self.http.json("POST", path, billable=True, json=body)
        return safe_id("runway", got.get("id") if isinstance(got, dict) else None)

    def get(self, task_id: str) -> Task:
        """`GET /v1/tasks/{id}`."""
        got = self.http.json("GET", f"/v1/tasks/{safe_id('runway', task_id)}")
        if not isinstance(got, dict):
            raise ProviderError("runway", "bad_response", "task is not a JSON object")
        # The status becomes metadata.stage and progress metadata.progress: bounded values.
        status = str(got.get("status") or "")[:40]
        if not status:  # an unknown word may be a new state; no status at all is a broken reply
            raise ProviderError("runway", "bad_response", f"task {task_id} has no status")
        progress = got.get("progress")
        if not (isinstance(progress, int | float) and not isinstance(progress, bool)
                and math.isfinite(progress)):
            progress = None
        output = got.get("output")
        outputs = tuple(u for u in output if isinstance(u, str)) if isinstance(
            output, list) else ()
        failure, code = got.get("failure"), got.get("failureCode")
        return Task(task_id, STATES.get(status, "running"), status,
                    min(max(float(progress), 0.0), 1.0) if progress is not None else None,
                    outputs, self.http.scrub(str(failure)) if failure else None,
                    str(code)[:80] if code else None)

    def cancel(self, task_id: str) -> None:
        """`DELETE /v1/tasks/{id}`: cancel a running task."""
        self.http.request("DELETE", f"/v1/tasks/{safe_id('runway', task_id)}")

    def download(self, task: Task, dest: Path) -> int:
        """Download `output[0]`; an expired link re-polls the task for a fresh one."""
        if not task.outputs:
            raise ProviderError("runway", "bad_response", "succeeded task has no output")

        def fresh() -> str:
            outputs = self.get(task.id).outputs
            if not outputs:
                raise ProviderError("runway", "bad_response", "no fresh output URL")
            return outputs[0]

        return self.http.download(task.outputs[0], dest, refresh=fresh)
