"""Helpers for the live `video-dagster dev` test: the process, GraphQL, waits and a stub Lambda."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
import psutil

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]


class GraphQLErrors(RuntimeError):
    """The webserver answered with `errors`."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def video_dagster_command() -> list[str]:
    """The installed console script beside this interpreter (what a user types)."""
    script = Path(sys.executable).parent / "video-dagster"
    return [str(script)] if script.exists() else [sys.executable, "-m", "video_dagster.cli"]


@dataclass
class Invocation:
    """One `Invoke` call the stub Lambda endpoint accepted."""

    function_name: str
    invocation_type: str | None
    event: dict[str, Any]


class StubLambdaEndpoint:
    """The AWS Lambda `Invoke` API on loopback: accepts every Event invocation (202) and never
    runs anything, so no callback ever arrives — a Lambda that went silent."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = re.match(r"^/2015-03-31/functions/([^/]+)/invocations", self.path)
                if match:
                    try:
                        event = json.loads(body or b"{}")
                    except ValueError:
                        event = {"unparsed": body.decode(errors="replace")}
                    outer.invocations.append(Invocation(
                        unquote(match.group(1)), self.headers.get("X-Amz-Invocation-Type"), event))
                self.send_response(202 if match else 404)
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StubLambdaEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class DevProcess:
    """`video-dagster dev` in its own session, its output in a log file."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes]
    seen: dict[int, float] = field(default_factory=dict)
    """pid → create_time of every process seen in the tree (to find leftovers after a stop)."""

    @classmethod
    def start(cls, port: int, env: dict[str, str], log_path: Path,
              command: list[str] | None = None, cwd: Path | None = None) -> DevProcess:
        """Start it the way a script would (`&`: SIGINT ignored) — `dev` must still stop on it."""
        cmd = [*(command or video_dagster_command()), "dev", "--host", "127.0.0.1",
               "--port", str(port)]
        log = open(log_path, "wb")
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited across exec
        try:
            proc = subprocess.Popen(cmd, env=env, cwd=cwd or REPO_ROOT, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            signal.signal(signal.SIGINT, previous)
            log.close()
        return cls(port, log_path, proc)

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def tail(self, lines: int = 60) -> str:
        """The last lines of the process output (console colours removed)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<no log: {exc}>"
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        """Fail at once, with the output, if `dev` exited on its own."""
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"video-dagster dev exited with {code}\n--- dev log ---\n"
                                 f"{self.tail()}")

    def graphql(self, query: str, variables: dict[str, Any] | None = None,
                timeout: float = 60.0) -> dict[str, Any]:
        """POST a query; GraphQLErrors when the response carries errors (retried by wait_for)."""
        response = httpx.post(self.graphql_url, json={"query": query,
                                                       "variables": variables or {}},
                              timeout=timeout)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLErrors(json.dumps(body["errors"])[:2000])
        return dict(body["data"])

    # --- the process tree -------------------------------------------------------------------

    def sessions(self) -> set[int]:
        """Session ids of `video-dagster dev` and of the `dagster dev` it starts (its own)."""
        sids = {self.proc.pid}
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                try:
                    sids.add(os.getsid(child.pid))
                except OSError:
                    pass
        except psutil.Error:
            pass
        return sids

    def tree(self, sessions: Iterable[int] | None = None) -> list[psutil.Process]:
        """Live (non-zombie) processes of the tree: descendants and members of its sessions."""
        sids = set(sessions if sessions is not None else self.sessions())
        found: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter(["pid", "create_time", "status"]):
            try:
                if proc.info["status"] == psutil.STATUS_ZOMBIE:
                    continue
                known = self.seen.get(proc.pid) == proc.info["create_time"]
                if known or os.getsid(proc.pid) in sids:
                    found[proc.pid] = proc
            except (psutil.Error, OSError):
                continue
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                found.setdefault(child.pid, child)
        except psutil.Error:
            pass
        for proc in found.values():
            try:
                self.seen.setdefault(proc.pid, proc.create_time())
            except psutil.Error:
                pass
        return [p for p in found.values() if p.pid != os.getpid()]

    def stop(self, timeout: float = 40.0) -> None:
        """Ctrl-C to the group of `dev`; SIGKILL whatever is left after `timeout` seconds."""
        sessions = self.sessions()
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None and not self.tree(sessions):
                return
            time.sleep(0.5)
        self.kill_everything()

    def kill_everything(self) -> None:
        """Cleanup after a failure: SIGKILL every process of the tree (by pid, never by name)."""
        sessions = self.sessions()
        for proc in self.tree(sessions):
            try:
                proc.kill()
            except psutil.Error:
                pass
        for sid in sessions:
            try:
                os.killpg(sid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


def describe(procs: Iterable[psutil.Process]) -> str:
    """One line per process: pid, session and command line."""
    lines = []
    for proc in procs:
        try:
            cmd = " ".join(proc.cmdline())[:160]
            lines.append(f"  pid {proc.pid} sid {os.getsid(proc.pid)} {proc.status()}: {cmd}")
        except (psutil.Error, OSError):
            lines.append(f"  pid {proc.pid}: <gone>")
    return "\n".join(lines) or "  (none)"


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    context: Callable[[], str],
    interval: float = 1.0,
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` with `context()`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as exc:  # a transient error (server busy): retry until the deadline
            last_error = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    extra = f"\nlast error: {type(last_error).__name__}: {last_error}" if last_error else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{extra}\n"
                         f"{context()}")
