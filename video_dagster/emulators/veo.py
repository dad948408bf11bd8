"""Veo emulator: the Gemini API and the Vertex flavour of long-running video generation."""

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
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from video_dagster.emulators import media, oauth
from video_dagster.emulators.common import EmulatorState, finish, guard, serve_file, threaded

MODELS = frozenset({"veo-3.1-generate-preview", "veo-3.1-fast-generate-preview",
                    "veo-3.1-generate-001", "veo-3.1-fast-generate-001",
                    "veo-3.1-lite-generate-001"})
SIZES = {("720p", "16:9"): (1280, 720), ("720p", "9:16"): (720, 1280),
         ("1080p", "16:9"): (1920, 1080), ("1080p", "9:16"): (1080, 1920)}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def envelope(status: int, code: str, message: str) -> dict[str, Any]:
    """Google's `{error: {code, message, status}}`."""
    return {"error": {"code": status, "message": message, "status": STATUS.get(status, code)}}


@dataclass
class Operation:
    """One generation."""

    name: str
    model: str
    seconds: int
    width: int
    height: int
    image: Path | None
    created: float
    outcome: str = "ok"  # ok | rai | error
    video: Path | None = None


@dataclass
class VeoState(EmulatorState):
    """Operations, render time, outcome switches; `vertex_token` is the accepted bearer token."""

    render_seconds: float = 0.3
    hold: bool = False
    rai_next: int = 0
    error_next: int = 0
    vertex_token: str = "vertex-token"
    # Where file downloads redirect: like Google's storage host, another origin than the API
    # (None: the API's own), so a client that forwards its key across origins is caught.
    files_origin: str | None = None
    oauth: oauth.TokenIssuer = field(default_factory=oauth.TokenIssuer)  # tokens via POST /token
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def submits(self) -> int:
        """Generations started (billed)."""
        return self.counters.get("generations", 0)


def _submit(state: VeoState, model: str, raw: bytes, prefix: str) -> Response:
    if model not in MODELS:
        return JSONResponse(envelope(404, "NOT_FOUND", f"models/{model} is not found for API "
                                     "version v1beta, or is not supported for "
                                     "predictLongRunning."), 404)
    try:
        body = json.loads(raw or b"{}")
        instance, params = body["instances"][0], body.get("parameters") or {}
    except (ValueError, KeyError, IndexError, TypeError):
        return JSONResponse(envelope(400, "INVALID_ARGUMENT", "instances[0] is required"), 400)
    seconds = params.get("durationSeconds", 8)
    if not isinstance(seconds, int) or seconds not in (4, 6, 8):
        return JSONResponse(envelope(400, "INVALID_ARGUMENT",
                                     "durationSeconds must be 4, 6 or 8"), 400)
    aspect, resolution = params.get("aspectRatio", "16:9"), params.get("resolution", "720p")
    if aspect not in ("16:9", "9:16") or resolution not in ("720p", "1080p", "4k"):
        return JSONResponse(envelope(400, "INVALID_ARGUMENT", "aspectRatio must be 16:9 or "
                                     "9:16 and resolution 720p, 1080p or 4k"), 400)
    width, height = SIZES.get((resolution, aspect), (1280, 720))
    image = None
    if isinstance(instance.get("image"), dict) and instance["image"].get("bytesBase64Encoded"):
        image = state.folder / f"ref-{secrets.token_hex(6)}"
        image.write_bytes(base64.b64decode(instance["image"]["bytesBase64Encoded"]))
    name = f"{prefix}models/{model}/operations/{secrets.token_hex(8)}"
    op = Operation(name, model, seconds, width, height, image, time.time())
    with state.lock:
        if state.rai_next > 0:
            state.rai_next -= 1
            op.outcome = "rai"
        elif state.error_next > 0:
            state.error_next -= 1
            op.outcome = "error"
        state.operations[name] = op
    state.count("generations")
    return JSONResponse({"name": name})


def _render(state: VeoState, op: Operation) -> Path:
    if op.video is None:
        out = state.folder / f"{op.name.rsplit('/', 1)[1]}.mp4"
        state.add_work(state.render_seconds + media.make_clip(
            out, op.seconds, op.width, op.height, op.image), op.name)
        op.video = out
    return op.video


def _poll(state: VeoState, op: Operation, vertex: bool) -> dict[str, Any]:
    if time.time() - op.created < state.render_seconds or state.hold:
        return {"name": op.name, "metadata": {}}
    if op.outcome == "error":
        return {"name": op.name, "done": True, "error": {
            "code": 13, "message": "Video generation failed due to an internal error."}}
    if op.outcome == "rai":
        reasons = ["The prompt could not be submitted: it may violate our policies."]
        inner = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": reasons}
        return {"name": op.name, "done": True, "response": inner if vertex else {
            "generateVideoResponse": inner}}
    path = _render(state, op)
    if vertex:
        data = base64.b64encode(path.read_bytes()).decode()
        return {"name": op.name, "done": True, "response": {
            "videos": [{"bytesBase64Encoded": data, "mimeType": "video/mp4"}]}}
    file_id = op.name.rsplit("/", 1)[1]
    uri = f"{state.base_url}/v1beta/files/{file_id}:download?alt=media"
    return {"name": op.name, "done": True, "response": {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                 "PredictLongRunningResponse",
        "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]}}}


def build_app(state: VeoState) -> Starlette:
    """Gemini API routes under /v1beta, Vertex routes under /v1/projects/..."""

    def gemini_model(request: Request, raw: bytes) -> Response:
        early, fault = guard(state, request, "x-goog-api-key", envelope, "UNAUTHENTICATED")
        if early is not None:
            return early
        model, _, verb = request.path_params["spec"].partition(":")
        if verb != "predictLongRunning":
            return JSONResponse(envelope(404, "NOT_FOUND", "unknown method"), 404)
        return finish(fault, _submit(state, model, raw, ""))

    def gemini_operation(request: Request, _raw: bytes) -> Response:
        early, fault = guard(state, request, "x-goog-api-key", envelope, "UNAUTHENTICATED")
        if early is not None:
            return early
        name = f"models/{request.path_params['model']}/operations/{request.path_params['op']}"
        op = state.operations.get(name)
        if op is None:
            return JSONResponse(envelope(404, "NOT_FOUND", "operation not found"), 404)
        return finish(fault, JSONResponse(_poll(state, op, vertex=False)))

    def gemini_file(request: Request, _raw: bytes) -> Response:
        early, _ = guard(state, request, "x-goog-api-key", envelope, "UNAUTHENTICATED")
        if early is not None:
            return early
        file_id = request.path_params["spec"].partition(":")[0]
        op = next((o for n, o in state.operations.items() if n.endswith(f"/{file_id}")), None)
        if op is None or op.video is None:
            return JSONResponse(envelope(404, "NOT_FOUND", "file not found"), 404)
        # The real API redirects to the bytes: this exercises follow_redirects.
        link = state.link(op.video, "video/mp4")
        if state.files_origin:
            link = link.replace(state.base_url, state.files_origin, 1)
        return RedirectResponse(link, status_code=302)

    def vertex_model(request: Request, raw: bytes) -> Response:
        fault = state.faults.take(request.method, request.url.path)
        if fault is not None and fault.status is not None:
            return JSONResponse(envelope(fault.status, fault.code, fault.message), fault.status)
        auth = request.headers.get("authorization", "")
        bearer = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if bearer is None or (bearer != state.vertex_token and not state.oauth.accepts(bearer)):
            return JSONResponse(envelope(401, "UNAUTHENTICATED", "Request had invalid "
                                         "authentication credentials."), 401)
        p = request.path_params
        model, _, verb = p["spec"].partition(":")
        prefix = f"projects/{p['project']}/locations/{p['location']}/publishers/google/"
        if verb == "predictLongRunning":
            return finish(fault, _submit(state, model, raw, prefix))
        if verb == "fetchPredictOperation":
            try:
                name = json.loads(raw)["operationName"]
            except (ValueError, KeyError, TypeError):
                return JSONResponse(envelope(400, "INVALID_ARGUMENT", "operationName"), 400)
            op = state.operations.get(name)
            if op is None:
                return JSONResponse(envelope(404, "NOT_FOUND", "operation not found"), 404)
            return finish(fault, JSONResponse(_poll(state, op, vertex=True)))
        return JSONResponse(envelope(404, "NOT_FOUND", "unknown method"), 404)

    def token(request: Request, raw: bytes) -> Response:
        state.count("POST /token")
        return oauth.token(state.oauth, raw)

    def files(request: Request, _raw: bytes) -> Response:
        if request.headers.get("x-goog-api-key"):  # the key reached the storage origin
            state.count("files_with_key")
        return serve_file(state, request)

    return Starlette(routes=[
        Route("/v1beta/models/{spec}", threaded(gemini_model), methods=["POST"]),
        Route("/v1beta/models/{model}/operations/{op}", threaded(gemini_operation),
              methods=["GET"]),
        Route("/v1beta/files/{spec}", threaded(gemini_file), methods=["GET"]),
        Route("/v1/projects/{project}/locations/{location}/publishers/google/models/{spec}",
              threaded(vertex_model), methods=["POST"]),
        Route("/token", threaded(token), methods=["POST"]),
        Route("/_files/{token}", threaded(files), methods=["GET"]),
    ])
