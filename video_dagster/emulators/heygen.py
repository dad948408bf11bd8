"""HeyGen v3 emulator: assets, avatar videos, polling, presigned downloads (PROVIDERS.md §7)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from video_dagster.emulators import media
from video_dagster.emulators.common import (
    EmulatorState,
    finish,
    guard,
    json_object,
    serve_file,
    threaded,
)

SIZES = {("720p", "16:9"): (1280, 720), ("720p", "9:16"): (720, 1280), ("720p", "1:1"): (720, 720),
         ("1080p", "16:9"): (1920, 1080), ("1080p", "9:16"): (1080, 1920),
         ("1080p", "1:1"): (1080, 1080)}


def envelope(status: int, code: str, message: str) -> dict[str, Any]:
    """HeyGen v3's `{error: {code, message, doc_url}}`."""
    return {"error": {"code": code, "message": message,
                      "doc_url": "https://developers.heygen.com/docs/error-codes"}}


@dataclass
class Job:
    """One submitted avatar video."""

    video_id: str
    audio: Path
    width: int
    height: int
    colour: str
    created: float
    fail: bool = False
    video: Path | None = None
    duration: float | None = None


@dataclass
class HeyGenState(EmulatorState):
    """Assets, jobs, idempotency replays, render time and failure switches."""

    render_seconds: float = 0.3
    hold: bool = False  # keep every job `processing` until released
    fail_next: int = 0  # the next N submitted jobs end `failed`
    report_duration: float | None = None  # a wrong `duration` to report (hostile tests)
    assets: dict[str, Path] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    replays: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)  # Idempotency-Keys being processed

    @property
    def submits(self) -> int:
        """Videos actually created (billed), replays excluded."""
        return self.counters.get("videos_created", 0)


def _multipart_file(request: Request, raw: bytes) -> tuple[str, bytes] | None:
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return str(part.get_filename() or "upload.bin"), bytes(payload or b"")
    return None


def _status(state: HeyGenState, job: Job) -> dict[str, Any]:
    elapsed = time.time() - job.created
    data: dict[str, Any] = {"id": job.video_id, "created_at": int(job.created),
                            "title": None, "video_url": None, "duration": None}
    if elapsed < state.render_seconds * 0.3:
        data["status"] = "pending"
    elif elapsed < state.render_seconds or state.hold:
        data["status"] = "processing"
    elif job.fail:
        data.update(status="failed", failure_code="RENDER_FAILED",
                    failure_message="Avatar rendering failed (emulated)")
    else:
        if job.video is None:
            out = state.folder / f"{job.video_id}.mp4"
            # The job's provider time: the emulated render wait plus the real encode.
            state.add_work(state.render_seconds + media.make_avatar_video(
                job.audio, out, job.width, job.height, job.colour), job.video_id)
            job.video, job.duration = out, round(media.probe_duration(out), 3)
        data.update(status="completed", video_url=state.link(job.video, "video/mp4"),
                    duration=job.duration if state.report_duration is None
                    else state.report_duration, completed_at=int(time.time()))
    return {"data": data}


def build_app(state: HeyGenState) -> Starlette:
    """The ASGI app serving `state`."""

    def upload(request: Request, raw: bytes) -> Response:
        early, fault = guard(state, request, "x-api-key", envelope, "unauthorized")
        if early is not None:
            return early
        found = _multipart_file(request, raw)
        if found is None:
            return JSONResponse(envelope(400, "invalid_parameter", "multipart field `file` is "
                                         "required"), 400)
        name, data = found
        asset_id = secrets.token_hex(8)
        path = state.folder / f"asset-{asset_id}-{Path(name).name}"
        path.write_bytes(data)
        state.assets[asset_id] = path
        return finish(fault, JSONResponse({"data": {
            "asset_id": asset_id, "url": state.link(path, "application/octet-stream"),
            "mime_type": request.headers.get("content-type", ""), "size_bytes": len(data)}}))

    def create(request: Request, raw: bytes) -> Response:
        # A second request with a key whose first is still processing gets 409 (HeyGen's
        # idempotency contract), not a second video.
        key = request.headers.get("idempotency-key")
        with state.lock:
            if key and key in state.in_progress:
                return JSONResponse(envelope(409, "request_in_progress", "A request with this "
                                             "Idempotency-Key is in progress"), 409)
            if key:
                state.in_progress.add(key)
        try:
            return _create(request, raw)
        finally:
            with state.lock:
                state.in_progress.discard(key or "")

    def _create(request: Request, raw: bytes) -> Response:
        early, fault = guard(state, request, "x-api-key", envelope, "unauthorized")
        if early is not None:
            return early
        body = json_object(raw)
        if body is None or body.get("type") not in ("avatar", "image"):
            return JSONResponse(envelope(400, "invalid_parameter", "type must be avatar or "
                                         "image"), 400)
        key = request.headers.get("idempotency-key")
        with state.lock:
            if key and key in state.replays:
                return finish(fault, JSONResponse(state.replays[key]))
        if not body.get("avatar_id"):
            return JSONResponse(envelope(400, "invalid_parameter", "avatar_id is required"), 400)
        audio = state.assets.get(str(body.get("audio_asset_id")))
        if audio is None:
            return JSONResponse(envelope(400, "invalid_parameter", "audio_asset_id does not "
                                         "name an uploaded asset"), 400)
        size = SIZES.get((str(body.get("resolution", "720p")), str(body.get("aspect_ratio",
                                                                             "16:9"))))
        width, height = size or (1280, 720)
        background = body.get("background") or {}
        colour = str(background.get("value", "#336699")).replace("#", "0x")
        job = Job(secrets.token_hex(16), audio, width, height, colour, time.time())
        with state.lock:
            if state.fail_next > 0:
                state.fail_next -= 1
                job.fail = True
            state.jobs[job.video_id] = job
            reply = {"data": {"video_id": job.video_id, "status": "waiting",
                              "output_format": "mp4"}}
            if key:
                state.replays[key] = reply
                state.in_progress.discard(key)  # processed: a resend now gets the replay
        state.count("videos_created")
        return finish(fault, JSONResponse(reply))

    def get(request: Request, _raw: bytes) -> Response:
        early, fault = guard(state, request, "x-api-key", envelope, "unauthorized")
        if early is not None:
            return early
        job = state.jobs.get(request.path_params["video_id"])
        if job is None:
            return JSONResponse(envelope(404, "not_found", "Video not found"), 404)
        return finish(fault, JSONResponse(_status(state, job)))

    def files(request: Request, _raw: bytes) -> Response:
        return serve_file(state, request)

    return Starlette(routes=[
        Route("/v3/assets", threaded(upload), methods=["POST"]),
        Route("/v3/videos", threaded(create), methods=["POST"]),
        Route("/v3/videos/{video_id}", threaded(get), methods=["GET"]),
        Route("/_files/{token}", threaded(files), methods=["GET"]),
    ])
