"""Pure rules of the merger: event parsing, the compatibility rule, argv and concat lists."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.errors import InvalidInput
from lambdas.common.media import AudioInfo, MediaInfo, VideoInfo, ffmpeg_exe, probe
from lambdas.video_merger import core
from tests.lambdas.conftest import Clips

V = VideoInfo(0, "h264", 160, 120, "yuv420p", Fraction(15), Fraction(1, 15360), "High")
A = AudioInfo(1, "aac", 44100, 1, "mono")
BASE = MediaInfo("mov,mp4", 1.0, ("video", "audio"), V, A)
EVENT: dict[str, Any] = {
    "node_uuid": "n", "executor_type": "merge-videos", "process_uuid": "p",
    "output_uri": "s3://b/pipelines/p/nodes/n/out.mp4", "callback_uri": "s3://b/callbacks/n/p.json",
    "input_videos": ["s3://b/x.mp4", "file:///tmp/y.mov"],
}


def test_parse_event_keeps_order_and_derives_output() -> None:
    event = core.parse_event(EVENT)
    assert [str(u) for u in event.inputs] == EVENT["input_videos"]
    assert (event.base.output_bucket, event.base.output_key) == ("b", "pipelines/p/nodes/n/out.mp4")
    assert (event.suffix, event.muxer) == (".mp4", "mp4")


def test_output_bucket_and_key_stand_in_for_output_uri() -> None:
    event = {**EVENT, "output_bucket": "b2", "output_key": "k/o.mkv"}
    del event["output_uri"]
    parsed = core.parse_event(event)
    assert str(parsed.base.output) == "s3://b2/k/o.mkv"
    assert parsed.muxer == "matroska"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input_videos": None}, "'input_videos' is required"),
        ({"input_videos": ["s3://b/x.mp4"]}, "at least 2 videos, got 1"),
        ({"input_videos": ["s3://b/x.mp4", "s3://b"]}, "input_videos[1] is invalid"),
        ({"input_videos": ["s3://b/x.mp4", "file://rel/x"]}, "input_videos[1] is invalid"),
        ({"node_uuid": ""}, "'node_uuid' is required"),
        ({"callback_uri": "https://x"}, "'callback_uri' is missing or invalid"),
        ({"s3_endpoint_url": "localhost:9000"}, "'s3_endpoint_url'"),
        ({"output_bucket": "b", "output_key": "other"}, "disagree"),
    ],
)
def test_parse_event_rejects(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        core.parse_event({**EVENT, **change})
    assert message in caught.value.message


def _info(video: VideoInfo | None = V, audio: AudioInfo | None = A) -> MediaInfo:
    return replace(BASE, video=video, audio=audio)


@pytest.mark.parametrize(
    ("other", "encode_video", "audio", "remux", "mode"),
    [
        (_info(), False, "copy", False, "copy"),
        (_info(replace(V, frame_rate=Fraction(15015, 1000))), False, "copy", False, "copy"),
        (_info(replace(V, frame_rate=Fraction(25))), True, "copy", False, "reencode"),
        (_info(replace(V, width=320)), True, "copy", False, "reencode"),
        (_info(replace(V, codec="mpeg4")), True, "copy", False, "reencode"),
        (_info(replace(V, pix_fmt="yuv444p")), True, "copy", False, "reencode"),
        (_info(replace(V, profile="Main")), False, "copy", False, "copy"),
        (_info(replace(V, time_base=Fraction(1, 90000))), False, "copy", True, "remux"),
        (_info(audio=None), False, "silence", False, "reencode"),
        (_info(audio=replace(A, sample_rate=48000)), False, "encode", False, "reencode"),
        (_info(audio=replace(A, channels=2)), False, "encode", False, "reencode"),
        (_info(audio=replace(A, codec="mp3")), False, "encode", False, "reencode"),
        (_info(replace(V, index=1), replace(A, index=0)), False, "copy", True, "remux"),
    ],
)
def test_compatibility_rule(
    other: MediaInfo, encode_video: bool, audio: str, remux: bool, mode: str
) -> None:
    target, plans = core.plan_inputs([BASE, other], "mp4")
    assert target == core.Target(V, A)
    assert plans[0] == core.InputPlan(0, False, "copy", False)
    assert (plans[1].encode_video, plans[1].audio, plans[1].remux) == (encode_video, audio, remux)
    assert core.merge_mode(plans) == mode


def test_audio_target_comes_from_first_input_with_audio() -> None:
    target, plans = core.plan_inputs([_info(audio=None), BASE], "mp4")
    assert target.audio == A
    assert [p.audio for p in plans] == ["silence", "copy"]


def test_no_audio_anywhere_is_a_video_only_copy() -> None:
    target, plans = core.plan_inputs([_info(audio=None), _info(audio=None)], "mp4")
    assert target.audio is None and core.merge_mode(plans) == "copy"


def test_time_base_only_matters_for_mov_family() -> None:
    other = _info(replace(V, time_base=Fraction(1, 1000)))
    assert core.merge_mode(core.plan_inputs([BASE, other], "matroska")[1]) == "copy"
    assert core.merge_mode(core.plan_inputs([BASE, other], "mp4")[1]) == "remux"


def test_unknown_target_codec_falls_back_to_h264_for_everyone() -> None:
    odd = replace(V, codec="cinepak")
    target, plans = core.plan_inputs([_info(odd), _info(replace(odd, width=320))], "mp4")
    assert (target.video.codec, target.video.width) == ("h264", 160)
    assert all(p.encode_video for p in plans)


def test_first_input_without_video_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="no video"):
        core.plan_inputs([_info(video=None), BASE], "mp4")


def test_concat_argv_is_a_stream_copy() -> None:
    argv = core.concat_argv("ffmpeg", "/w/list.txt", "/w/out.mp4", True, "mp4")
    assert argv[0] == "ffmpeg" and argv[-1] == "/w/out.mp4"
    joined = " ".join(argv)
    assert "-f concat -safe 0 -i /w/list.txt" in joined
    assert "-map 0:v:0 -map 0:a:0 -c copy -f mp4" in joined
    assert "0:a:0" not in core.concat_argv("ffmpeg", "l", "o", False, "mp4")


def test_normalize_argv_encodes_only_mismatched_streams() -> None:
    target = core.Target(V, A)
    plan = core.InputPlan(1, True, "copy", False)
    argv = core.normalize_argv("ffmpeg", "in", "out", BASE, plan, target, "mp4")
    joined = " ".join(argv)
    assert "-c:v libx264" in joined and "-profile:v high" in joined and "-c:a copy" in joined
    assert "scale=160:120:force_original_aspect_ratio=decrease" in joined
    assert "fps=15/1" in joined and "format=yuv420p" in joined
    assert "-video_track_timescale 15360" in joined


def test_normalize_argv_adds_silence_of_the_input_duration() -> None:
    plan = core.InputPlan(1, False, "silence", False)
    argv = core.normalize_argv("ffmpeg", "in", "out", _info(audio=None), plan,
                               core.Target(V, A), "mp4")
    joined = " ".join(argv)
    assert "-f lavfi -t 1.000000 -i anullsrc=channel_layout=mono:sample_rate=44100" in joined
    assert "-map 0:v:0 -map 1:a:0 -c:v copy -c:a aac -ar 44100 -ac 1" in joined


@pytest.mark.parametrize(
    ("path", "quoted"),
    [
        ("/w/seg_000.mp4", "'/w/seg_000.mp4'"),
        ("/w/it's.mp4", "'/w/it'\\''s.mp4'"),
        ("/w/back\\slash.mp4", "'/w/back\\slash.mp4'"),
        ("/w/sp ace.mp4", "'/w/sp ace.mp4'"),
    ],
)
def test_escape_concat_path(path: str, quoted: str) -> None:
    assert core.escape_concat_path(path) == quoted


@pytest.mark.parametrize("path", ["/w/a\nb.mp4", "/w/a\rb.mp4"])
def test_escape_concat_path_refuses_line_breaks(path: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        core.escape_concat_path(path)


def test_concat_list_escaping_is_what_ffmpeg_reads(clips: Clips, tmp_path: Path) -> None:
    odd = tmp_path / "q'uo\\te's"
    odd.mkdir()
    (odd / "a'.mp4").symlink_to(clips.a)
    (odd / "b\\.mp4").symlink_to(clips.b)
    listing = tmp_path / "list.txt"
    listing.write_text(core.concat_list([str(odd / "a'.mp4"), str(odd / "b\\.mp4")]))
    out = tmp_path / "out.mp4"
    argv = core.concat_argv(ffmpeg_exe(), str(listing), str(out), True, "mp4")
    subprocess.run(argv, check=True, timeout=60)
    info = probe(out)
    assert info.duration == pytest.approx(2.0, abs=0.15)
