"""Issue 10.5: merges with fade/crossfade re-encode once and last exactly sum - overlaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambdas.video_merger.handler import lambda_handler
from tests.lambdas.conftest import Clips, EventFactory, read_callback
from tests.lambdas.media_checks import brightness, frame_at, streams

pytestmark = pytest.mark.usefixtures("work_root")
FRAME = 1 / 15


def _run(event: dict[str, Any]) -> dict[str, Any]:
    body = lambda_handler(event, None)
    assert read_callback(event) == body
    return body


def _out(event: dict[str, Any]) -> Path:
    return Path(event["output_uri"].removeprefix("file://"))


def test_crossfade_is_exact_and_dissolves(clips: Clips, make_event: EventFactory) -> None:
    event = make_event([clips.a, clips.b, clips.a], transition="crossfade",
                       transition_duration=0.4)
    result = _run(event)["result"]
    assert result["mode"] == "reencode" and result["transition"] == "crossfade"
    assert result["expected_duration"] == pytest.approx(3.0 - 2 * 0.4, abs=0.01)
    assert result["duration"] == pytest.approx(2.2, abs=FRAME)
    assert (result["width"], result["height"], result["audio_codec"]) == (160, 120, "aac")
    assert streams(_out(event)) == ["video", "audio"]
    # Mid-dissolve of two bright test patterns is never black.
    assert brightness(frame_at(_out(event), 0.8)) > 60


def test_fade_goes_through_black_and_fills_missing_audio(clips: Clips,
                                                         make_event: EventFactory) -> None:
    event = make_event([clips.a, clips.silent, clips.wide], transition="fade",
                       transition_duration=0.5)
    result = _run(event)["result"]
    assert result["duration"] == pytest.approx(3.0 - 2 * 0.5, abs=FRAME)
    assert (result["width"], result["height"]) == (160, 120)  # the first clip's size
    assert result["has_audio"] is True
    out = _out(event)
    assert brightness(frame_at(out, 0.2)) > 60
    # The middle of the first transition (offset 0.5 s, 0.5 s long) is black.
    assert brightness(frame_at(out, 0.75)) < 25


def test_none_keeps_the_stream_copy(clips: Clips, make_event: EventFactory) -> None:
    result = _run(make_event([clips.a, clips.b], transition="none"))["result"]
    assert result["mode"] == "copy"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"transition": "crossfade", "transition_duration": 1.0}, "not longer than the 1s transition"),
    ({"transition": "wipe"}, "'transition' must be one of none, fade, crossfade"),
    ({"transition": "fade", "transition_duration": "half"}, "'transition_duration' must be"),
    ({"transition": "fade", "transition_duration": 0}, "'transition_duration' must be between"),
])
def test_bad_transitions_call_back_with_a_clear_error(clips: Clips, make_event: EventFactory,
                                                      overrides: dict[str, Any],
                                                      message: str) -> None:
    body = _run(make_event([clips.a, clips.b], **overrides))
    assert body["error_type"] == "InvalidInput" and message in body["error"]
