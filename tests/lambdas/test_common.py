"""Shared Lambda plumbing: URIs, events, logging, storage on file://, FFmpeg runner, probing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas.common import events
from lambdas.common.errors import FFmpegError, FFmpegTimeout, InputNotFound, InvalidInput
from lambdas.common.logs import JsonLogger, redact
from lambdas.common.media import ProbeError, ffmpeg_exe, probe, run_ffmpeg
from lambdas.common.runtime import Deadline
from lambdas.common.storage import Storage, write_callback
from lambdas.common.uris import ObjectUri, parse_uri
from tests.lambdas.conftest import Clips


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b.mp4", ObjectUri("s3", "bucket", "a/b.mp4")),
        ("s3://bucket/it's\nodd %20.mp4", ObjectUri("s3", "bucket", "it's\nodd %20.mp4")),
        ("file:///tmp/x y/z.mp4", ObjectUri("file", "", "/tmp/x y/z.mp4")),
    ],
)
def test_parse_uri(uri: str, expected: ObjectUri) -> None:
    assert parse_uri(uri) == expected
    assert str(expected) == uri


@pytest.mark.parametrize(
    "uri", [None, "", "s3://", "s3://bucket", "s3://bucket/", "file://rel/x", "file:///dir/",
            "http://x/y", 42],
)
def test_parse_uri_rejects(uri: Any) -> None:
    with pytest.raises(ValueError):
        parse_uri(uri)


def test_file_output_reports_bucket_and_key_of_the_store_layout() -> None:
    base = {"node_uuid": "n", "executor_type": "t", "process_uuid": "p",
            "callback_uri": "file:///s/b/callbacks/n/p.json"}
    parsed = events.parse_base_event(
        {**base, "output_uri": "file:///root/bkt/pipelines/p/nodes/n/out.mp4"})
    assert (parsed.output_bucket, parsed.output_key) == ("bkt", "pipelines/p/nodes/n/out.mp4")
    explicit = events.parse_base_event(
        {**base, "output_uri": "file:///elsewhere/o.mp4", "output_bucket": "b", "output_key": "k"})
    assert (explicit.output_bucket, explicit.output_key) == ("b", "k")
    loose = events.parse_base_event({**base, "output_uri": "file:///elsewhere/o.mp4"})
    assert (loose.output_bucket, loose.output_key) == (None, "/elsewhere/o.mp4")


def test_callback_bodies_match_the_contract() -> None:
    ident = events.identity({"node_uuid": "n", "executor_type": "t", "process_uuid": 5})
    assert events.success_body(ident, {"uri": "u"}) == {
        "node_uuid": "n", "executor_type": "t", "process_uuid": None, "result": {"uri": "u"}}
    assert events.error_body(ident, "bad", "InvalidInput") == {
        "node_uuid": "n", "executor_type": "t", "process_uuid": None,
        "error": "bad", "error_type": "InvalidInput"}


def test_logger_writes_one_json_object_per_line_without_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = JsonLogger("t")
    log.info("step", AWS_SECRET_ACCESS_KEY="s3cr3t", headers={"Authorization": "x"}, n=1)
    try:
        raise RuntimeError("multi\nline")
    except RuntimeError as exc:
        log.error("boom", exc=exc)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "step" and first["n"] == 1 and first["logger"] == "t"
    assert "s3cr3t" not in lines[0] and first["headers"] == {"Authorization": "***"}
    assert second["level"] == "error" and second["exc_type"] == "RuntimeError"
    assert "Traceback" in second["traceback"]
    assert redact({"api_key": 1, "token_count": 2, "ok": 3}) == {
        "api_key": "***", "token_count": "***", "ok": 3}


def test_file_storage_round_trip(tmp_path: Path) -> None:
    storage = Storage()
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100_000)
    uri = f"file://{tmp_path}/store/b/k/o.bin"
    storage.upload(src, uri)
    assert src.exists() and Path(uri[7:]).read_bytes() == src.read_bytes()
    copy = storage.download(uri, tmp_path / "dl" / "c.bin")
    assert copy.read_bytes() == src.read_bytes()
    assert storage.local_path(uri, tmp_path / "unused") == Path(uri[7:])
    storage.upload(src, f"file://{tmp_path}/moved.bin", move=True)
    assert not src.exists() and (tmp_path / "moved.bin").stat().st_size == 100_000
    with pytest.raises(InputNotFound, match=r"missing\.bin"):
        storage.local_path(f"file://{tmp_path}/missing.bin", tmp_path / "m")
    with pytest.raises(InputNotFound):
        storage.download(f"file://{tmp_path}/missing.bin", tmp_path / "m")
    write_callback(f"file://{tmp_path}/cb/n/p.json", {"a": 1})
    assert json.loads((tmp_path / "cb/n/p.json").read_text()) == {"a": 1}
    assert [p.name for p in (tmp_path / "cb/n").iterdir()] == ["p.json"]


def test_run_ffmpeg_reports_stderr_tail_and_timeouts() -> None:
    ffmpeg = ffmpeg_exe()
    with pytest.raises(FFmpegError, match="exited with code") as caught:
        run_ffmpeg([ffmpeg, "-hide_banner", "-i", "/definitely/not/here.mp4"], timeout=30)
    assert "No such file" in caught.value.message
    endless = [ffmpeg, "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
               "testsrc=size=32x32:rate=5", "-f", "null", "-"]
    with pytest.raises(FFmpegTimeout, match="within 1s"):
        run_ffmpeg(endless, timeout=1)


def test_ffmpeg_path_env_must_be_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FFMPEG_PATH", str(tmp_path / "nope"))
    with pytest.raises(Exception, match="FFMPEG_PATH"):
        ffmpeg_exe()


def test_probe_reads_streams(clips: Clips) -> None:
    info = probe(clips.a)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert info.stream_types == ("video", "audio")
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.width, info.video.height) == ("h264", 160, 120)
    assert (info.video.pix_fmt, info.video.frame_rate) == ("yuv420p", 15)
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 44100, 1)
    assert probe(clips.silent).audio is None
    with pytest.raises(ProbeError):
        probe(clips.corrupt)


class _Context:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_deadline_keeps_a_reserve_for_upload_and_callback() -> None:
    now = [0.0]
    deadline = Deadline(_Context(120_000), clock=lambda: now[0])
    assert deadline.seconds_left() == pytest.approx(60.0)
    now[0] = 59.5
    with pytest.raises(FFmpegTimeout):
        deadline.seconds_left()


def test_invalid_input_is_a_lambda_error() -> None:
    assert InvalidInput("x").error_type == "InvalidInput"
