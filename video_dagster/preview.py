"""Preview links an operator can open: a loopback HTTP server for stored outputs.

`video-dagster dev` runs it beside the Dagster UI. `GET /objects/<key>` streams an object of the
local store (with Range support, so browsers can seek in videos), or for S3 redirects to a
presigned link made at that moment — so the links kept in Dagster metadata hold no credential
and never expire. Only keys our store accepts are served; nothing else on the machine is.
"""

from __future__ import annotations

import mimetypes
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

PREVIEW_URL_ENV = "VIDEO_PREVIEW_URL"
PREFIX = "/objects/"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def preview_link(key: str, base: str | None = None) -> str | None:
    """The link to an object through the preview server, if one is configured."""
    base = base or os.environ.get(PREVIEW_URL_ENV)
    if not base:
        return None
    return base.rstrip("/") + PREFIX + quote(key)


def serve(store: Any, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start serving `store` on a daemon thread; the server's address says the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            from video_dagster.resources.object_store import validate_key

            path = urlsplit(self.path).path
            if not path.startswith(PREFIX):
                return self._plain(404, "not found")
            try:
                key = validate_key(unquote(path[len(PREFIX):]))
            except Exception:  # any key the store refuses is simply not ours to serve
                return self._plain(400, "not an object key")
            if not hasattr(store, "path"):
                if not store.exists(key):
                    return self._plain(404, "no such object")
                self.send_response(302)
                self.send_header("Location", store.preview_url(key, expires_in=900))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                return None
            file = store.path(key)
            if not file.is_file():
                return self._plain(404, "no such object")
            self._file(file, body)
            return None

        def _file(self, file: Any, body: bool) -> None:
            size = file.stat().st_size
            start, end = 0, size - 1
            match = _RANGE.match(self.headers.get("Range") or "")
            if match and size:
                first, last = match.groups()
                if first:
                    start, end = int(first), min(int(last or end), end)
                elif last:
                    start = max(size - int(last), 0)
                if start > end:
                    return self._plain(416, "range not satisfiable")
            self.send_response(206 if match and size else 200)
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            self.send_header("Content-Type", ctype)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(max(end - start + 1, 0)))
            if match and size:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if body and size:
                with open(file, "rb") as fh:
                    fh.seek(start)
                    _copy(fh, self.wfile, end - start + 1)
            return None

        def _plain(self, status: int, text: str) -> None:
            data = text.encode() + b"\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # the dev console is for Dagster's logs
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="video-preview", daemon=True).start()
    return server


def _copy(src: Any, dst: Any, length: int) -> None:
    """Stream `length` bytes; a viewer closing the connection is not an error."""
    try:
        while length > 0:
            chunk = src.read(min(length, 256 * 1024))
            if not chunk:
                return
            dst.write(chunk)
            length -= len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        return


