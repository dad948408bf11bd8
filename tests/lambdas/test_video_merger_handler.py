"""The merger end to end on real FFmpeg with file:// URIs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import av
import pytest

from lambdas.common.media import probe
from lambdas.video_merger.handler import lambda_handler
from tests.lambdas.conftest import Clips, EventFactory, read_callback

pytestmark = pytest.mark.usefixtures("work_root")


def _decoded_video_frames(path: Path) -> int:
    """Decode every video frame: proves the joined stream plays, not just that it opens."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _run(event: dict[str, Any]) -> dict[str, Any]:
    body = lambda_handler(event, None)
    assert read_callback(event) == json.loads(json.dumps(body))
    return body


def _output(event: dict[str, Any]) -> Path:
    return Path(event["output_uri"].removeprefix("file://"))


def test_compatible_inputs_are_stream_copied(clips: Clips, make_event: EventFactory) -> None:
    event = make_event([clips.a, clips.b, clips.a])
    body = _run(event)
    result = body["result"]
    assert (body["node_uuid"], body["process_uuid"]) == ("node-1", "proc-1")
    assert result["mode"] == "copy"
    assert result["reencoded_inputs"] == []
    assert result["duration"] == pytest.approx(3.0, abs=0.15)
    assert (result["width"], result["height"]) == (160, 120)
    assert (result["video_codec"], result["audio_codec"]) == ("h264", "aac")
    assert result["s3Key"] == "pipelines/p1/nodes/node-1/output.mp4"
    assert result["bucket"] == "bucket"
    assert result["size"] == _output(event).stat().st_size > 0
    assert _decoded_video_frames(_output(event)) == 45


@pytest.mark.parametrize(
    ("names", "reencoded"),
    [
        (("a", "wide", "b"), [1]),  # different size
        (("a", "silent"), [1]),  # no audio: gets a silent track
        (("a", "mpeg4"), [1]),  # different video codec
        (("a", "stereo48k"), [1]),  # different audio rate and channels
        (("silent", "a"), [0]),  # first has no audio: target audio comes from the second
    ],
)
def test_incompatible_inputs_are_normalized_then_joined(
    clips: Clips, make_event: EventFactory, names: tuple[str, ...], reencoded: list[int]
) -> None:
    event = make_event([getattr(clips, n) for n in names])
    result = _run(event)["result"]
    assert result["mode"] == "reencode"
    assert result["reencoded_inputs"] == reencoded
    assert result["duration"] == pytest.approx(len(names), abs=0.2)
    info = probe(_output(event))
    assert info.video is not None and (info.video.width, info.video.height) == (160, 120)
    assert info.audio is not None and info.audio.codec == "aac"
    assert _decoded_video_frames(_output(event)) == pytest.approx(15 * len(names), abs=2)


def test_no_audio_anywhere_gives_video_only_copy(clips: Clips, make_event: EventFactory) -> None:
    result = _run(make_event([clips.silent, clips.silent]))["result"]
    assert (result["mode"], result["has_audio"], result["audio_codec"]) == ("copy", False, None)


def test_quote_and_newline_in_paths(clips: Clips, make_event: EventFactory, tmp_path: Path) -> None:
    odd = tmp_path / "it's a\nclip \\ dir"
    odd.mkdir()
    first, second = odd / "one'\n.mp4", odd / "two\\'.mp4"
    shutil.copyfile(clips.a, first)
    shutil.copyfile(clips.b, second)
    out = f"file://{odd}/pipelines/p1/nodes/node-1/out'put\n.mp4"
    event = make_event([first, second], output_uri=out)
    result = _run(event)["result"]
    assert result["mode"] == "copy"
    assert result["duration"] == pytest.approx(2.0, abs=0.15)
    assert _output(event).is_file()


def test_corrupted_input_reports_invalid_input(clips: Clips, make_event: EventFactory) -> None:
    body = _run(make_event([clips.a, clips.corrupt]))
    assert body["error_type"] in ("InvalidInput", "FFmpegError")
    assert "input_videos[1]" in body["error"] and "corrupt.mp4" in body["error"]
    assert "result" not in body


def test_missing_input_reports_input_not_found(
    clips: Clips, make_event: EventFactory, tmp_path: Path
) -> None:
    body = _run(make_event([clips.a, tmp_path / "nope.mp4"]))
    assert body["error_type"] == "InputNotFound"
    assert "nope.mp4" in body["error"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input_videos": ["file:///x.mp4"]}, "at least 2"),
        ({"input_videos": []}, "at least 2"),
        ({"input_videos": "file:///x.mp4"}, "must be a list"),
        ({"input_videos": ["file:///x.mp4", "http://y"]}, "input_videos[1]"),
        ({"process_uuid": None}, "process_uuid"),
        ({"output_uri": None}, "output_uri"),
    ],
)
def test_bad_events_call_back_invalid_input(
    make_event: EventFactory, change: dict[str, Any], message: str
) -> None:
    event = make_event([])
    event.update(change)
    body = _run(event)
    assert body["error_type"] == "InvalidInput"
    assert message in body["error"]
    assert body["node_uuid"] == "node-1"


def test_missing_callback_returns_and_logs_the_error(
    make_event: EventFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    event = make_event(["file:///only-one.mp4"])
    del event["callback_uri"]
    body = lambda_handler(event, None)
    assert body["error_type"] == "InvalidInput"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(r["event"] == "callback_missing" and r["body"] == body for r in logged)


def test_non_object_event_still_answers(make_event: EventFactory) -> None:
    body = lambda_handler(["not", "an", "object"], None)
    assert body == {"node_uuid": None, "executor_type": None, "process_uuid": None,
                    "error": "the event must be a JSON object", "error_type": "InvalidInput"}


def test_ffmpeg_failure_reports_ffmpeg_error(
    clips: Clips, make_event: EventFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'boom: encoder exploded' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("FFMPEG_PATH", str(fake))
    body = _run(make_event([clips.a, clips.b]))
    assert body["error_type"] == "FFmpegError"
    assert "code 3" in body["error"] and "boom: encoder exploded" in body["error"]


def test_ffmpeg_budget_exhausted_reports_timeout(
    clips: Clips, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FFMPEG_TIMEOUT_SECONDS", "0.5")
    body = _run(make_event([clips.a, clips.b]))
    assert body["error_type"] == "Timeout"


def test_unwritable_callback_is_logged_and_returned(
    clips: Clips, make_event: EventFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    event = make_event([clips.a, clips.b], callback_uri=f"file://{blocker}/cb.json")
    body = lambda_handler(event, None)
    assert body["result"]["mode"] == "copy"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["event"] for r in logged][-1] == "callback_write_failed"
