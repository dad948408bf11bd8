"""Runway emulator: image/text to video tasks with THROTTLED/RUNNING phases and cancellation."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from video_dagster.emulators import media
from video_dagster.emulators.common import EmulatorState, fault_response, serve_file, threaded
from video_dagster.resources.providers.runway import (
    API_VERSION,
    DURATIONS,
    PROMPT_LIMIT,
    allowed_ratios,
    utf16_units,
)

SIZES = {"1280:720": (1280, 720), "720:1280": (720, 1280), "960:960": (960, 960),
         "1920:1080": (1920, 1080), "1080:1920": (1080, 1920)}


def envelope(status: int, code: str, message: str) -> dict[str, Any]:
    """Runway's `{error: "<human text>"}`."""
    return {"error": message}


@dataclass
class Task:
    """One generation task."""

    id: str
    seconds: int
    width: int
    height: int
    image: Path | None
    created: float
    polls: int = 0
    status: str = "PENDING"
    outcome: str = "ok"  # ok | SAFETY.INPUT.TEXT | SAFETY.OUTPUT.VIDEO | INTERNAL
    video: Path | None = None


@dataclass
class RunwayState(EmulatorState):
    """Tasks, render time, THROTTLED polls, outcome switches."""

    render_seconds: float = 0.3
    hold: bool = False
    throttled_polls: int = 0
    fail_next: list[str] = field(default_factory=list)  # failure codes of the next tasks
    tasks: dict[str, Task] = field(default_factory=dict)

    @property
    def submits(self) -> int:
        """Tasks created (billed unless cancelled)."""
        return self.counters.get("tasks_created", 0)


def _auth(state: RunwayState, request: Request) -> Response | None:
    state.count(f"{request.method} {request.url.path}")
    fault = state.faults.take(request.method, request.url.path)
    if fault is not None:
        early = fault_response(fault, envelope)
        if early is not None:
            return early
    if request.headers.get("authorization") != f"Bearer {state.api_key}":
        return JSONResponse({"error": "Invalid API key"}, 401)
    if request.headers.get("x-runway-version") != API_VERSION:
        return JSONResponse({"error": "X-Runway-Version header is missing or invalid"}, 400)
    return None


def _image(state: RunwayState, value: Any) -> Path | None:
    uri = value[0].get("uri") if isinstance(value, list) and value else value
    if not isinstance(uri, str) or not uri.startswith("data:"):
        return None
    path = state.folder / f"ref-{secrets.token_hex(6)}"
    path.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    return path


def _view(state: RunwayState, task: Task) -> dict[str, Any]:
    data: dict[str, Any] = {"id": task.id, "createdAt": task.created, "status": task.status}
    if task.status in ("CANCELLED", "FAILED", "SUCCEEDED"):
        pass
    elif task.polls <= state.throttled_polls:
        data["status"] = task.status = "THROTTLED"
    elif time.time() - task.created < state.render_seconds or state.hold:
        data.update(status="RUNNING", progress=0.5)
        task.status = "RUNNING"
    elif task.outcome != "ok":
        task.status = "FAILED"
    else:
        if task.video is None:
            task.video = state.folder / f"{task.id}.mp4"
            state.add_work(state.render_seconds + media.make_clip(
                task.video, task.seconds, task.width, task.height, task.image, audio=False),
                task.id)
        task.status = "SUCCEEDED"
    data["status"] = task.status
    if task.status == "FAILED":
        data.update(failure=f"Task failed ({task.outcome})", failureCode=task.outcome)
    if task.status == "SUCCEEDED" and task.video is not None:
        data["output"] = [state.link(task.video, "video/mp4")]
    return data


def build_app(state: RunwayState) -> Starlette:
    """The ASGI app serving `state`."""

    def create(request: Request, raw: bytes) -> Response:
        early = _auth(state, request)
        if early is not None:
            return early
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return JSONResponse({"error": "Invalid JSON"}, 400)
        model, seconds = body.get("model"), body.get("duration")
        allowed = DURATIONS.get(str(model))
        if allowed is None:
            return JSONResponse({"error": f"Invalid model: {model}"}, 400)
        if seconds not in allowed:
            return JSONResponse({"error": f"duration must be one of {list(allowed)}"}, 400)
        prompt = body.get("promptText")
        if isinstance(prompt, str) and utf16_units(prompt) > PROMPT_LIMIT:
            return JSONResponse({"error": f"promptText must be at most {PROMPT_LIMIT} "
                                 "characters"}, 400)
        image = _image(state, body.get("promptImage"))
        to_video = request.url.path.endswith("image_to_video")
        if to_video and image is None:
            return JSONResponse({"error": "promptImage is required"}, 400)
        ratios = allowed_ratios(str(model), to_video)
        if body.get("ratio") not in ratios:
            return JSONResponse({"error": f"ratio must be one of {sorted(ratios)}"}, 400)
        width, height = SIZES.get(str(body.get("ratio")), (1280, 720))
        task = Task(secrets.token_hex(12), int(seconds), width, height, image, time.time())
        with state.lock:
            if state.fail_next:
                task.outcome = state.fail_next.pop(0)
            state.tasks[task.id] = task
        state.count("tasks_created")
        return JSONResponse({"id": task.id})

    def task(request: Request, _raw: bytes) -> Response:
        early = _auth(state, request)
        if early is not None:
            return early
        found = state.tasks.get(request.path_params["task_id"])
        if found is None:
            return JSONResponse({"error": "Task not found"}, 404)
        if request.method == "DELETE":
            if found.status not in ("SUCCEEDED", "FAILED"):
                found.status = "CANCELLED"
            state.count("tasks_cancelled")
            return Response(status_code=204)
        found.polls += 1
        return JSONResponse(_view(state, found))

    def files(request: Request, _raw: bytes) -> Response:
        return serve_file(state, request)

    return Starlette(routes=[
        Route("/v1/image_to_video", threaded(create), methods=["POST"]),
        Route("/v1/text_to_video", threaded(create), methods=["POST"]),
        Route("/v1/tasks/{task_id}", threaded(task), methods=["GET", "DELETE"]),
        Route("/_files/{token}", threaded(files), methods=["GET"]),
    ])
