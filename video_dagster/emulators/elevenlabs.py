"""ElevenLabs emulator: `POST /v1/text-to-speech/{voice_id}` and history audio (PROVIDERS.md §7)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from video_dagster.emulators import media
from video_dagster.emulators.common import EmulatorState, finish, guard, json_object, threaded
from video_dagster.resources.providers.elevenlabs import CHARACTER_LIMITS, DEFAULT_CHARACTER_LIMIT

DEFAULT_VOICES = frozenset({"21m00Tcm4TlvDq8ikWAM", "EXAVITQu4vr4xnSDxMaL", "test-voice"})


def envelope(status: int, code: str, message: str) -> dict[str, Any]:
    """ElevenLabs' `{detail: {status, message}}`."""
    return {"detail": {"status": code, "message": message}}


@dataclass
class ElevenLabsState(EmulatorState):
    """Voices, concurrency cap, quota, history and the stitching ids each call received."""

    voices: frozenset[str] = DEFAULT_VOICES
    max_concurrent: int = 5
    quota_credits: float | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    latency: float = 0.0  # seconds each request is held (counted as in flight)
    history: dict[str, Path] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    busy: threading.Lock = field(default_factory=threading.Lock)


def _tts(state: ElevenLabsState, request: Request, body: dict[str, Any]) -> Response:
    voice = request.path_params["voice_id"]
    if voice not in state.voices:
        return JSONResponse(envelope(404, "voice_not_found",
                                     f"A voice with the voice_id {voice} was not found."), 404)
    text = body.get("text")
    if not isinstance(text, str) or not text:
        return JSONResponse({"detail": [{"loc": ["body", "text"], "msg": "field required",
                                         "type": "value_error.missing"}]}, 422)
    model = str(body.get("model_id") or "eleven_multilingual_v2")
    limit = CHARACTER_LIMITS.get(model, DEFAULT_CHARACTER_LIMIT)
    if len(text) > limit:
        return JSONResponse(envelope(400, "max_character_limit_exceeded",
                                     f"Text is {len(text)} characters; the limit is {limit}."),
                            400)
    credits = len(text) * (0.5 if ("flash" in model or "turbo" in model) else 1.0)
    with state.lock:
        if state.quota_credits is not None and credits > state.quota_credits:
            return JSONResponse(envelope(401, "quota_exceeded",
                                         "This request exceeds your quota remaining."), 401)
        if state.in_flight >= state.max_concurrent:
            return JSONResponse(envelope(429, "too_many_concurrent_requests",
                                         "Too many concurrent requests."), 429)
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        if state.quota_credits is not None:
            state.quota_credits -= credits
    try:
        if state.latency:
            time.sleep(state.latency)
        fmt = str(request.query_params.get("output_format") or "mp3_44100_128")
        kind = "wav" if fmt.startswith("wav") else "mp3"
        request_id = secrets.token_hex(10)
        path = state.folder / f"{request_id}.{kind}"
        state.add_work(media.make_speech(text, path, kind), request_id)
        state.count("tts_billed")
        with state.lock:
            state.history[request_id] = path
            state.calls.append({"request_id": request_id, "chars": len(text),
                                "previous_request_ids": body.get("previous_request_ids")})
    finally:
        with state.lock:
            state.in_flight -= 1
    content_type = "audio/wav" if kind == "wav" else "audio/mpeg"
    return FileResponse(path, media_type=content_type, headers={
        "request-id": request_id, "history-item-id": request_id,
        "character-cost": f"{credits:g}",
    })


def build_app(state: ElevenLabsState) -> Starlette:
    """The ASGI app serving `state`."""

    def tts(request: Request, raw: bytes) -> Response:
        early, fault = guard(state, request, "xi-api-key", envelope, "invalid_api_key")
        if early is not None:
            return early
        body = json_object(raw)
        if body is None:
            return JSONResponse({"detail": [{"loc": ["body"], "msg": "invalid JSON",
                                             "type": "value_error"}]}, 422)
        return finish(fault, _tts(state, request, body))

    def history_audio(request: Request, _raw: bytes) -> Response:
        early, _ = guard(state, request, "xi-api-key", envelope, "invalid_api_key")
        if early is not None:
            return early
        path = state.history.get(request.path_params["item_id"])
        if path is None:
            return JSONResponse(envelope(404, "history_item_not_found", "No such item"), 404)
        return FileResponse(path, media_type="audio/mpeg")

    return Starlette(routes=[
        Route("/v1/text-to-speech/{voice_id}", threaded(tts), methods=["POST"]),
        Route("/v1/text-to-speech/{voice_id}/stream", threaded(tts), methods=["POST"]),
        Route("/v1/history/{item_id}/audio", threaded(history_audio), methods=["GET"]),
    ])
