"""Start Lambda functions asynchronously: on AWS, or as detached local processes."""

from __future__ import annotations

import abc
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from dagster import ConfigurableResource
from pydantic import Field

from lambdas.common.workdir import TMPDIR_ENV, sweep
from video_dagster.resources.lambda_crashes import crash_message, memory_env, write_crash_callback
from video_dagster.resources.lambda_functions import deployed_name

# Local mode imports `lambdas.<name>`: the same rule as lambdas.local_runner, checked before
# a process is started for nothing.
_LOCAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class LambdaInvocationError(Exception):
    """The function could not be started; names the function and the AWS error code."""

    def __init__(self, message: str, *, function_name: str, code: str) -> None:
        super().__init__(message)
        self.function_name, self.code = function_name, code


@dataclass(frozen=True)
class InvocationReceipt:
    """Proof that an asynchronous invocation was accepted."""

    function_name: str
    mode: str
    request_id: str
    status_code: int


def _payload(function_name: str, event: Mapping[str, Any]) -> str:
    try:
        return json.dumps(event)
    except (TypeError, ValueError) as exc:
        # The event itself stays out of the message: it may carry provider secrets.
        raise LambdaInvocationError(
            f"event for {function_name!r} is not JSON-serializable: {type(exc).__name__}",
            function_name=function_name, code="InvalidEvent",
        ) from exc


class LambdaInvoker(abc.ABC):
    """Fire-and-forget invocation; results arrive later as a callback object."""

    @abc.abstractmethod
    def invoke_async(self, function_name: str, event: Mapping[str, Any]) -> InvocationReceipt:
        """Start `function_name` with `event` and return without waiting for it."""


class AwsLambdaInvoker(LambdaInvoker):
    """`Invoke` with InvocationType=Event; credentials come from the environment/profile."""

    def __init__(
        self,
        *,
        function_names: Mapping[str, str] | None = None,
        function_prefix: str = "",
        region_name: str | None = None,
        endpoint_url: str | None = None,
        profile_name: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 3,
        client: Any = None,
    ) -> None:
        self.function_names = dict(function_names or {})
        self.function_prefix = function_prefix
        self.endpoint_url = endpoint_url
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                # Standard mode retries throttling (TooManyRequestsException) with backoff.
                retries={"max_attempts": max_attempts, "mode": "standard"},
            )
            session = boto3.session.Session(profile_name=profile_name, region_name=region_name)
            client = session.client("lambda", endpoint_url=endpoint_url, config=config)
        self.client = client

    def __repr__(self) -> str:
        return f"AwsLambdaInvoker(prefix={self.function_prefix!r}, names={self.function_names!r})"

    def resolve(self, function_name: str) -> str:
        """Deployed name or ARN: the explicit mapping wins, else the template's naming rule."""
        return self.function_names.get(function_name) or deployed_name(
            function_name, self.function_prefix)

    def invoke_async(self, function_name: str, event: Mapping[str, Any]) -> InvocationReceipt:
        from botocore.exceptions import BotoCoreError, ClientError

        target = self.resolve(function_name)
        payload = _payload(function_name, event)
        where = f"{function_name!r}" + (f" ({target})" if target != function_name else "")
        try:
            response = self.client.invoke(
                FunctionName=target, InvocationType="Event", Payload=payload.encode()
            )
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code") or "Unknown")
            raise LambdaInvocationError(
                f"invoking Lambda {where} failed: {code}: {err.get('Message', '')}".rstrip(": "),
                function_name=function_name, code=code,
            ) from exc
        except BotoCoreError as exc:
            code = type(exc).__name__
            raise LambdaInvocationError(
                f"invoking Lambda {where} failed: {code}: {exc}",
                function_name=function_name, code=code,
            ) from exc
        status = response.get("StatusCode")
        if status != 202:
            raise LambdaInvocationError(
                f"invoking Lambda {where} returned status {status}, expected 202 (accepted)",
                function_name=function_name, code=f"HTTP{status}",
            )
        request_id = response.get("ResponseMetadata", {}).get("RequestId", "")
        return InvocationReceipt(function_name, "aws", request_id, 202)


class LocalLambdaInvoker(LambdaInvoker):
    """Runs `python -m <runner_module> <function> <event.json>` detached, and watches it.

    A watcher thread waits for each child. A child that exits non-zero (killed, crashed, or the
    runner could not run) has not called back: the watcher kills what is left of its process
    group (FFmpeg), removes its temp folders, and writes the failure callback itself, naming the
    exit status — so the node fails within seconds instead of at its deadline. Exit 0 means the
    handler ran and wrote its own callback. If this process dies too, the deadline remains.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        runner_module: str = "lambdas.local_runner",
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.log_dir = Path(log_dir).resolve()
        self.runner_module = runner_module
        self.python = python
        self.env = dict(env or {})
        self.cwd = cwd
        # The children's work folders: ours alone, so sweeping them never touches others' files.
        self.tmp_dir = Path(self.env.get(TMPDIR_ENV) or self.log_dir / "tmp")

    def paths(self, function_name: str, request_id: str) -> tuple[Path, Path]:
        """(event file, log file) of one invocation."""
        folder = self.log_dir / function_name
        return folder / f"{request_id}.event.json", folder / f"{request_id}.log"

    def invoke_async(self, function_name: str, event: Mapping[str, Any]) -> InvocationReceipt:
        if not _LOCAL_NAME.match(function_name):
            raise LambdaInvocationError(
                f"local Lambda name {function_name!r} is not a module name",
                function_name=function_name, code="InvalidFunctionName",
            )
        payload = _payload(function_name, event)
        self.reap()
        request_id = str(uuid.uuid4())
        event_path, log_path = self.paths(function_name, request_id)
        try:
            event_path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            sweep(self.tmp_dir)  # folders of runners that died while nobody watched
            # Beside the log: the runner deletes it once the handler ran, keeps it if it could not.
            fd, tmp = tempfile.mkstemp(prefix=".event-", dir=event_path.parent)
            with os.fdopen(fd, "w") as out:
                out.write(payload)
            os.replace(tmp, event_path)
            with open(log_path, "ab") as log:
                child = subprocess.Popen(
                    [self.python, "-m", self.runner_module, function_name, str(event_path)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    # Own session: Ctrl-C or the end of the Dagster step does not kill it.
                    start_new_session=True, close_fds=True,
                    env={**os.environ, TMPDIR_ENV: str(self.tmp_dir), **memory_env(function_name),
                         **self.env}, cwd=self.cwd,
                )
        except OSError as exc:
            raise LambdaInvocationError(
                f"starting local Lambda {function_name!r} failed: {exc}",
                function_name=function_name, code=type(exc).__name__,
            ) from exc
        with _CHILDREN_LOCK:
            _CHILDREN.append(child)
        threading.Thread(
            target=self._watch, args=(child, function_name, dict(event), log_path),
            name=f"lambda-watch-{child.pid}", daemon=True,
        ).start()
        return InvocationReceipt(function_name, "local", request_id, 202)

    def _watch(self, child: subprocess.Popen[bytes], function_name: str,
               event: dict[str, Any], log_path: Path) -> None:
        status = child.wait()
        if status == 0:
            return
        try:
            # The group outlives its leader while FFmpeg runs; pgid == the runner's pid.
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        sweep(self.tmp_dir, child.pid)
        write_crash_callback(event, crash_message(function_name, child.pid, status, log_path))

    def reap(self) -> int:
        """Collect exited children so none lingers as a zombie; returns how many still run."""
        with _CHILDREN_LOCK:
            _CHILDREN[:] = [c for c in _CHILDREN if c.poll() is None]
            return len(_CHILDREN)


# Process-wide: a resource (and so an invoker) is built per run, but the children of earlier
# invokers in a long-lived process must still be reaped by whichever invoker runs next.
_CHILDREN: list[subprocess.Popen[bytes]] = []
_CHILDREN_LOCK = threading.Lock()


def _default_home() -> Path:
    from video_dagster.settings import home_dir

    return home_dir()


class LambdaInvokerResource(ConfigurableResource):  # type: ignore[type-arg]
    """Chooses how Lambda functions are started."""

    mode: Literal["local", "aws"] = Field(
        default="local", description="`local` (background process, no AWS) or `aws`."
    )
    region_name: str | None = Field(default=None, description="AWS region of the functions.")
    endpoint_url: str | None = Field(
        default=None, description="Lambda API endpoint override (e.g. LocalStack); None = AWS."
    )
    profile_name: str | None = Field(
        default=None, description="AWS profile; credentials otherwise come from the environment."
    )
    function_prefix: str = Field(
        default="",
        description="Deployed name = prefix + logical name with _ as - (`<stack>-` for "
        "template.yaml), for names not in `function_names`."
    )
    function_names: dict[str, str] = Field(
        default_factory=dict,
        description='Logical name to deployed name or ARN, e.g. {"video_merger": "vd-merger"}.',
    )
    log_dir: str | None = Field(
        default=None,
        description="Local mode: events and logs; default `<VIDEO_DAGSTER_HOME>/lambda-logs`.",
    )
    connect_timeout: float = Field(default=5.0, description="AWS connect timeout, seconds.")
    read_timeout: float = Field(default=30.0, description="AWS read timeout, seconds.")
    max_attempts: int = Field(default=3, description="AWS attempts per invoke, first included.")
    local_runner_module: str = Field(
        default="lambdas.local_runner",
        description="Local mode: the module run with `python -m` to execute a function.",
    )

    @cached_property
    def _invoker(self) -> LambdaInvoker:
        # One instance per resource, so local children are tracked and reaped across calls.
        if self.mode == "local":
            log_dir = Path(self.log_dir) if self.log_dir else _default_home() / "lambda-logs"
            return LocalLambdaInvoker(log_dir, runner_module=self.local_runner_module)
        return AwsLambdaInvoker(
            function_names=self.function_names, function_prefix=self.function_prefix,
            region_name=self.region_name, endpoint_url=self.endpoint_url,
            profile_name=self.profile_name, connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout, max_attempts=self.max_attempts,
        )

    def get_invoker(self) -> LambdaInvoker:
        """The configured invoker (built once per resource instance)."""
        return self._invoker
