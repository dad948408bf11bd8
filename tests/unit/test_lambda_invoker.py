"""Lambda invokers: detached local processes, and AWS `Invoke` with InvocationType=Event."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber

from tests.conftest import use_fake_aws
from video_dagster.resources.lambda_invoker import (
    AwsLambdaInvoker,
    LambdaInvocationError,
    LambdaInvokerResource,
    LocalLambdaInvoker,
)

SECRET = "fake-secret-key-must-never-be-printed"
EVENT = {"node_uuid": "n-1", "executor_type": "merge-videos", "process_uuid": "p-1",
         "output_uri": "s3://b/pipelines/p/nodes/n/output.mp4", "api_key": "sk-event-secret"}


def _local_invoker(tmp_path: Path, delay: float = 0.0) -> LocalLambdaInvoker:
    (tmp_path / "out").mkdir(exist_ok=True)
    return LocalLambdaInvoker(
        tmp_path / "logs",
        runner_module="_echo_runner",
        env={"PYTHONPATH": str(Path(__file__).parent), "ECHO_OUT_DIR": str(tmp_path / "out"),
             "ECHO_DELAY": str(delay)},
    )


def _wait_for(path: Path, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return json.loads(path.read_text())


def _state(pid: int) -> str | None:
    try:
        # Field 3 of /proc/<pid>/stat, after the parenthesised command name.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_local_invoke_returns_at_once_and_runs_detached(tmp_path: Path) -> None:
    invoker = _local_invoker(tmp_path, delay=1.5)

    started = time.monotonic()
    receipt = invoker.invoke_async("video_merger", EVENT)
    elapsed = time.monotonic() - started

    event_path, log_path = invoker.paths("video_merger", receipt.request_id)
    out = tmp_path / "out" / f"{event_path.name}.out"
    assert elapsed < 1.0 and not out.exists(), "invoke_async waited for the child"
    assert (receipt.function_name, receipt.mode, receipt.status_code) == (
        "video_merger", "local", 202)
    assert str(uuid.UUID(receipt.request_id)) == receipt.request_id

    record = _wait_for(out)
    assert record["argv"] == ["video_merger", str(event_path)]
    assert record["event"] == EVENT
    assert json.loads(event_path.read_text()) == EVENT
    # Its own session: a signal to the orchestrator's process group does not reach it.
    assert record["sid"] == record["pid"] != os.getsid(0)
    deadline = time.monotonic() + 10
    while invoker.reap():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    log = log_path.read_text()
    assert "echo runner ran video_merger" in log and "echo runner stderr line" in log


def test_local_children_are_reaped_no_zombies(tmp_path: Path) -> None:
    invoker = _local_invoker(tmp_path)
    receipts = [invoker.invoke_async("video_merger", {**EVENT, "i": i}) for i in range(4)]
    pids = [
        _wait_for(tmp_path / "out" / f"{invoker.paths('video_merger', r.request_id)[0].name}.out")[
            "pid"]
        for r in receipts
    ]
    # Each child's watcher waits for it: it is reaped as it exits, never left a zombie.
    deadline = time.monotonic() + 10
    while any(_state(pid) is not None for pid in pids):
        assert time.monotonic() < deadline, [_state(pid) for pid in pids]
        time.sleep(0.02)

    last = invoker.invoke_async("video_merger", EVENT)
    last_pid = _wait_for(
        tmp_path / "out" / f"{invoker.paths('video_merger', last.request_id)[0].name}.out"
    )["pid"]
    deadline = time.monotonic() + 10
    while invoker.reap():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    mine = {*pids, last_pid}
    assert not [p for p in Path("/proc").glob("[0-9]*")
                if int(p.name) in mine and _zombie_child_of_me(p)]


def _zombie_child_of_me(proc: Path) -> bool:
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] == "Z" and int(fields[1]) == os.getpid()


def test_local_rejects_bad_names_and_events_without_leaking_them(tmp_path: Path) -> None:
    invoker = _local_invoker(tmp_path)
    for name in ["../evil", "lambdas.video_merger", "", "a b", "Video_Merger"]:
        with pytest.raises(LambdaInvocationError) as err:
            invoker.invoke_async(name, EVENT)
        assert err.value.code == "InvalidFunctionName"
    with pytest.raises(LambdaInvocationError) as err:
        invoker.invoke_async("video_merger", {"api_key": "sk-event-secret", "bad": object()})
    assert err.value.code == "InvalidEvent" and "sk-event-secret" not in str(err.value)
    assert not (tmp_path / "logs").exists()


# --- AWS mode --------------------------------------------------------------------------------


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_fake_aws(monkeypatch, tmp_path, SECRET)


def _assert_clean(error: LambdaInvocationError) -> None:
    assert SECRET not in str(error) and "sk-event-secret" not in str(error)


def test_aws_missing_function_is_a_clear_error(endpoint: str) -> None:
    invoker = AwsLambdaInvoker(region_name="us-east-1", endpoint_url=endpoint,
                               function_prefix="vd-prod-", max_attempts=1)
    with pytest.raises(LambdaInvocationError) as err:
        invoker.invoke_async("video_merger", EVENT)

    assert err.value.code == "ResourceNotFoundException"
    assert err.value.function_name == "video_merger"
    assert "'video_merger' (vd-prod-video-merger)" in str(err.value)
    _assert_clean(err.value)


def test_aws_mapping_wins_over_prefix() -> None:
    arn = "arn:aws:lambda:eu-west-1:111122223333:function:merger-v2"
    invoker = AwsLambdaInvoker(function_names={"video_merger": arn}, function_prefix="vd-",
                               region_name="eu-west-1")
    assert invoker.resolve("video_merger") == arn
    assert invoker.resolve("image_resizer") == "vd-image-resizer"  # the template's naming rule
    assert SECRET not in repr(invoker)


def _stubbed() -> tuple[AwsLambdaInvoker, Stubber]:
    # AWS cannot be reached here and moto runs Lambda code only through Docker, so the accepted
    # (202) and non-202 answers come from botocore's Stubber on the invoker's real client.
    invoker = AwsLambdaInvoker(function_names={"video_merger": "vd-merger"},
                               region_name="us-east-1", max_attempts=1)
    return invoker, Stubber(invoker.client)


def test_aws_accepted_invocation_returns_receipt() -> None:
    invoker, stubber = _stubbed()
    stubber.add_response(
        "invoke",
        {"StatusCode": 202, "ResponseMetadata": {"RequestId": "req-123", "HTTPStatusCode": 202}},
        {"FunctionName": "vd-merger", "InvocationType": "Event", "Payload": ANY},
    )
    sent: list[bytes] = []
    invoker.client.meta.events.register(
        "before-parameter-build.lambda.Invoke", lambda params, **_: sent.append(params["Payload"])
    )
    with stubber:
        receipt = invoker.invoke_async("video_merger", EVENT)
    stubber.assert_no_pending_responses()

    assert (receipt.function_name, receipt.mode, receipt.request_id, receipt.status_code) == (
        "video_merger", "aws", "req-123", 202)
    assert json.loads(sent[0]) == EVENT


def test_aws_non_202_status_is_an_error() -> None:
    invoker, stubber = _stubbed()
    stubber.add_response("invoke", {"StatusCode": 200})
    with stubber, pytest.raises(LambdaInvocationError, match="status 200, expected 202") as err:
        invoker.invoke_async("video_merger", EVENT)
    assert err.value.code == "HTTP200"
    _assert_clean(err.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [("TooManyRequestsException", 429), ("AccessDeniedException", 403),
     ("RequestEntityTooLargeException", 413)],
)
def test_aws_client_errors_name_function_and_code(code: str, status: int) -> None:
    invoker, stubber = _stubbed()
    stubber.add_client_error("invoke", service_error_code=code, http_status_code=status,
                             service_message="denied for user arn:aws:iam::1:user/ci")
    with stubber, pytest.raises(LambdaInvocationError) as err:
        invoker.invoke_async("video_merger", EVENT)
    assert err.value.code == code and err.value.function_name == "video_merger"
    assert code in str(err.value) and "vd-merger" in str(err.value)
    _assert_clean(err.value)


def test_aws_unreachable_endpoint_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    invoker = AwsLambdaInvoker(region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                               connect_timeout=1, max_attempts=1)
    with pytest.raises(LambdaInvocationError) as err:
        invoker.invoke_async("video_merger", EVENT)
    assert err.value.code == "EndpointConnectionError" and "'video_merger'" in str(err.value)
    _assert_clean(err.value)


# --- resource --------------------------------------------------------------------------------


def test_resource_local_mode_is_one_tracked_invoker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEO_DAGSTER_HOME", str(tmp_path / "home"))
    resource = LambdaInvokerResource()
    invoker = resource.get_invoker()
    assert isinstance(invoker, LocalLambdaInvoker) and invoker is resource.get_invoker()
    assert invoker.log_dir == tmp_path / "home" / "lambda-logs"
    explicit = LambdaInvokerResource(log_dir=str(tmp_path / "logs")).get_invoker()
    assert explicit.log_dir == tmp_path / "logs"  # type: ignore[attr-defined]


def test_resource_aws_mode(endpoint: str) -> None:
    resource = LambdaInvokerResource(
        mode="aws", region_name="us-east-1", endpoint_url=endpoint, function_prefix="vd-",
        function_names={"video_merger": "merger-prod"}, max_attempts=1,
    )
    invoker = resource.get_invoker()
    assert isinstance(invoker, AwsLambdaInvoker)
    with pytest.raises(LambdaInvocationError, match=r"\(merger-prod\).*ResourceNotFound"):
        invoker.invoke_async("video_merger", EVENT)
