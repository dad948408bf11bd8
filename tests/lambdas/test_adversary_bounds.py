"""Adversarial node config reaching the media Lambdas: bounded work, one short clear error."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lambdas.code_renderer import core
from lambdas.code_renderer.handler import lambda_handler as render_handler
from tests.lambdas.conftest import function_event, read_callback

pytestmark = pytest.mark.usefixtures("work_root")


class Hung(Exception):
    """The guarded call ran far past anything reasonable."""


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """Turn a hang into a failure (the fixed code takes milliseconds, the old one forever)."""
    def fire(*_: Any) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _render(tmp_path: Path, scene: dict[str, Any], **config: Any) -> dict[str, Any]:
    event = function_event(tmp_path, "render-code", scene=scene,
                           config={"duration": 0.5, "fps": 2, "typing": "instant", **config})
    with hang_guard(30):
        body = render_handler(event, None)
    assert read_callback(event) == body
    return body


@pytest.mark.parametrize(("title", "size"), [
    ("hello.py", {"width": 320, "height": 2160}),  # no room for any title: looped forever
    ("t" * 100_000, {"width": 320, "height": 180}),  # quadratic trimming
])
def test_a_title_that_cannot_fit_does_not_hang(tmp_path: Path, title: str,
                                               size: dict[str, int]) -> None:
    body = _render(tmp_path, {"code": "print(1)", "title": title}, **size)
    assert "result" in body, body
    assert (body["result"]["width"], body["result"]["height"]) == (size["width"], size["height"])


def test_repeated_highlight_ranges_cost_one_pass() -> None:
    code = "x\n" * 9_999 + "x"
    with hang_guard(10):
        scene = core.parse_scene({"code": code, "highlights": [[1, 10_000]] * 80_000})
    assert scene.highlights == frozenset(range(1, 10_001))


def test_infinite_highlight_is_invalid_input() -> None:
    with pytest.raises(core.InvalidInput, match="is not a line or a range"):
        core.parse_scene({"code": "x", "highlights": [float("inf")]})
