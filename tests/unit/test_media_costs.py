"""render-code `typing` is characters per second or "instant": both parse, so both are estimated."""

from __future__ import annotations

import pytest

from video_dagster.domain import costs


@pytest.mark.parametrize("typing", ["instant", 40, 12.5, None])
def test_render_code_typing_values_are_estimated(typing: object) -> None:
    assert costs.estimate("render-code", {"provider": "native", "typing": typing}) > 0
