"""render-code `typing` is characters per second or "instant": both parse, so both are estimated."""

from __future__ import annotations

import pytest

from video_dagster.domain import costs


@pytest.mark.parametrize("typing", ["instant", 40, 12.5, None])
def test_render_code_typing_values_are_estimated(typing: object) -> None:
    assert costs.estimate("render-code", {"provider": "native", "typing": typing}) > 0


def test_media_estimates_are_lambda_gb_seconds() -> None:
    from video_dagster.assets.executors import executor_for
    from video_dagster.resources.lambda_functions import FIXED_SECONDS, FUNCTIONS

    ten = costs.estimate("render-code", {"provider": "native", "duration": 10})
    assert ten == pytest.approx(FUNCTIONS["code_renderer"].cost(FIXED_SECONDS + 0.5 * 10),
                                abs=1e-6)
    assert costs.estimate("render-code", {"provider": "native", "duration": 60}) > ten
    copy = costs.estimate("merge-videos", {"provider": "ffmpeg"})
    fade = costs.estimate("merge-videos", {"provider": "ffmpeg", "transition": "fade"})
    assert 0 < copy < fade < 0.01
    # The pipeline's estimate and the executor's (with unknown input lengths) agree.
    compose = executor_for("compose-video")
    assert compose is not None
    config = {"provider": "ffmpeg", "rounded": True}
    assert compose.estimate(config, []) == pytest.approx(  # type: ignore[attr-defined]
        costs.estimate("compose-video", config), abs=1e-6)
