"""The Lambda kit: typed fields and the billing every success result carries."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lambdas.audio_mixer.handler import lambda_handler
from lambdas.common.billing import billing, cost
from lambdas.common.errors import InvalidInput
from lambdas.common.kit import choice, number
from tests.lambdas.conftest import Clips, Tones, function_event
from video_dagster.resources.lambda_functions import FUNCTIONS


def test_number_and_choice() -> None:
    assert number({}, "x", 1.5) == 1.5
    assert number({"x": 2}, "x", None, low=0, high=3) == 2.0
    for bad in (True, "2", float("nan"), 5):
        with pytest.raises(InvalidInput, match="'x' must be"):
            number({"x": bad}, "x", None, low=0, high=3)
    assert choice({}, "m", ("a", "b")) == "a"
    with pytest.raises(InvalidInput, match="'m' must be one of a, b, got 'c'"):
        choice({"m": "c"}, "m", ("a", "b"))


def test_billing_rounds_up_to_the_millisecond() -> None:
    context = SimpleNamespace(memory_limit_in_mb=2048)
    bill = billing(context, 1.0004)
    assert bill["billed_seconds"] == 1.001 and bill["memory_mb"] == 2048
    assert bill["cost"] == pytest.approx(2 * 1.001 * 0.0000166667 + 0.0000002, abs=1e-9)
    assert FUNCTIONS["audio_mixer"].cost(1.001) == bill["cost"] == cost(2048, 1.001)


@pytest.mark.usefixtures("work_root")
def test_a_success_reports_its_cost(tmp_path: Path, clips: Clips, tones: Tones) -> None:
    event = function_event(tmp_path, "mix-audio", video_uri=clips.a, audio_uri=tones.short)
    result = lambda_handler(event, SimpleNamespace(memory_limit_in_mb=1024))["result"]
    assert result["memory_mb"] == 1024 and 0 < result["billed_seconds"] < 60
    assert result["cost"] == cost(1024, result["billed_seconds"])
