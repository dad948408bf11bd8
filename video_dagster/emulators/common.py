"""Pieces every emulator app shares: state counters, fault handling, the file download route."""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from video_dagster.emulators.faults import Fault, FaultBook

Envelope = Callable[[int, str, str], dict[str, Any]]


@dataclass
class EmulatorState:
    """Mutable state of one emulator: key, faults, counters, work time, files it serves."""

    api_key: str
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vd-emu-")))
    faults: FaultBook = field(default_factory=FaultBook)
    counters: dict[str, int] = field(default_factory=dict)
    work_seconds: float = 0.0
    work_by: dict[str, float] = field(default_factory=dict)  # per request/job id
    link_ttl: float = 3600.0  # seconds a download link stays valid
    lock: threading.Lock = field(default_factory=threading.Lock)
    links: dict[str, tuple[Path, float, str]] = field(default_factory=dict)
    base_url: str = ""

    def count(self, name: str) -> int:
        """Increment and return counter `name`."""
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1
            return self.counters[name]

    def add_work(self, seconds: float, job: str | None = None) -> None:
        """Account emulated provider work (FFmpeg time, render wait), for the benchmark."""
        with self.lock:
            self.work_seconds += seconds
            if job is not None:
                self.work_by[job] = self.work_by.get(job, 0.0) + seconds

    def link(self, path: Path, content_type: str) -> str:
        """A fresh presigned-style URL for `path`, valid for `link_ttl` seconds."""
        token = secrets.token_urlsafe(12)
        with self.lock:
            self.links[token] = (path, time.time() + self.link_ttl, content_type)
        return f"{self.base_url}/_files/{token}"


def threaded(fn: Callable[[Request, bytes], Response]) -> Callable[[Request], Any]:
    """An async endpoint that reads the body, then runs blocking `fn` in the thread pool."""
    from starlette.concurrency import run_in_threadpool

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(fn, request, body)

    return endpoint


def fault_response(fault: Fault, envelope: Envelope) -> Response | None:
    """Apply a fault: sleep for `delay`, then answer with its status (or None: serve normally)."""
    if fault.delay:
        time.sleep(fault.delay)
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if fault.body is not None:
        return Response(fault.body, fault.status or 200, headers=headers,
                        media_type=fault.content_type)
    if fault.status is None:
        return None
    return JSONResponse(envelope(fault.status, fault.code, fault.message), fault.status,
                        headers=headers)


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A request body parsed as a JSON object; None for anything else (the caller's 4xx)."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def guard(state: EmulatorState, request: Request, key_header: str,
          envelope: Envelope, invalid_key_code: str) -> tuple[Response | None, Fault | None]:
    """Faults first, then the key check. Returns (early response, fault to finish with)."""
    state.count(f"{request.method} {request.url.path}")
    fault = state.faults.take(request.method, request.url.path)
    if fault is not None:
        early = fault_response(fault, envelope)
        if early is not None:
            return early, None
    if request.headers.get(key_header) != state.api_key:
        return JSONResponse(envelope(401, invalid_key_code, "Invalid API key"), 401), None
    return None, fault


def finish(fault: Fault | None, response: Response) -> Response:
    """Serve, then (for a `delay_after` fault) stall so the client times out after billing."""
    if fault is not None and fault.delay_after:
        time.sleep(fault.delay_after)
    return response


def serve_file(state: EmulatorState, request: Request) -> Response:
    """`GET /_files/{token}`: the presigned download; 403 once the link has expired."""
    state.count("GET /_files")
    fault = state.faults.take("GET", request.url.path)
    if fault is not None and fault.status is not None:
        return Response(b"<Error><Code>AccessDenied</Code></Error>", fault.status)
    with state.lock:
        entry = state.links.get(request.path_params["token"])
    if entry is None:
        return Response(b"<Error><Code>NoSuchKey</Code></Error>", 404)
    path, expires, content_type = entry
    if time.time() > expires:
        return Response(b"<Error><Code>AccessDenied</Code><Message>Request has expired"
                        b"</Message></Error>", 403)
    return FileResponse(path, media_type=content_type)
