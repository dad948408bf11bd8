"""Pure decisions of the code renderer: the scene, its tokens, and the typing schedule.

Scene (a json asset or the event's `scene`): `{language, theme, title, code, highlights}`;
`highlights` lists line numbers (1-based) or ranges (`[3, 5]` or `"3-5"`). Node config:
`duration` (s, default 10), `width` x `height` (1920x1080), `fps` (30), `typing` (characters per
second, or `instant`; by default the code is typed out over the first 70 % of the duration).
Typing: characters appear one by one; a line end costs LINE_PAUSE characters' time (a pause). A
`typing` rate too slow to finish within `duration` is raised so that it does: the last frame
always shows the whole code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lambdas.common.errors import InvalidInput
from lambdas.common.events import BaseEvent, parse_base_event
from lambdas.common.kit import config_of, number
from lambdas.common.uris import ObjectUri, parse_uri

LINE_PAUSE = 6  # character-times of pause at each line end
TYPED_SHARE = 0.7  # default typing speed: the whole code by 70 % of the duration
MAX_CODE_CHARS = 20_000
MAX_PIXELS = 3840 * 2160
DEFAULT_THEME = "monokai"


@dataclass(frozen=True)
class Scene:
    """What to draw."""

    language: str
    theme: str
    title: str
    code: str
    highlights: frozenset[int]


@dataclass(frozen=True)
class RenderEvent:
    """A validated code_renderer event."""

    base: BaseEvent
    scene_uri: ObjectUri | None
    scene: Mapping[str, Any] | None
    duration: float
    width: int
    height: int
    fps: int
    typing: float | None  # characters per second; None = instant


def parse_event(event: Mapping[str, Any]) -> RenderEvent:
    """Validate a code_renderer event; raise InvalidInput naming the problem."""
    base = parse_base_event(event)
    config = config_of(event)
    scene_uri = None
    if event.get("scene_uri") is not None:
        try:
            scene_uri = parse_uri(event["scene_uri"])
        except ValueError as exc:
            raise InvalidInput(f"'scene_uri' is invalid: {exc}") from None
    scene = event.get("scene")
    if scene_uri is None and not isinstance(scene, Mapping):
        raise InvalidInput("a code scene is required: a json asset as the 'config' input, "
                           "or {language, theme, title, code, highlights} in the node config")
    duration = number(config, "duration", 10.0, low=0.5, high=600)
    width = number(config, "width", 1920, low=320, high=3840)
    height = number(config, "height", 1080, low=180, high=2160)
    fps = number(config, "fps", 30, low=1, high=60)
    assert duration and width and height and fps
    if any(v != int(v) for v in (width, height, fps)):
        raise InvalidInput("'width', 'height' and 'fps' must be whole numbers")
    typing_raw = config.get("typing")
    typing: float | None
    if typing_raw == "instant":
        typing = None
    else:
        typing = number(config, "typing", 0.0, low=1, high=10_000) or 0.0
    return RenderEvent(base, scene_uri, scene if isinstance(scene, Mapping) else None,
                       duration, int(width) // 2 * 2, int(height) // 2 * 2, int(fps), typing)


def scene_from_json(raw: bytes) -> Mapping[str, Any]:
    """The scene object of a json asset."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"the code scene is not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise InvalidInput("the code scene must be a JSON object")
    return value


def parse_scene(raw: Mapping[str, Any]) -> Scene:
    """Validate the scene's fields (language and theme are checked against Pygments later)."""
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput("the scene's 'code' must be non-empty text")
    if len(code) > MAX_CODE_CHARS:
        raise InvalidInput(f"the scene's 'code' is longer than {MAX_CODE_CHARS} characters")
    fields = {}
    for name, default in (("language", "text"), ("theme", DEFAULT_THEME), ("title", "")):
        value = raw.get(name, default)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise InvalidInput(f"the scene's '{name}' must be text, got {value!r}")
        fields[name] = value
    # A lone CR ends a line too: Pygments splits there, so highlights must count it the same.
    code = code.expandtabs(4).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return Scene(fields["language"], fields["theme"], fields["title"], code,
                 parse_highlights(raw.get("highlights"), code.count("\n") + 1))


def parse_highlights(value: Any, lines: int) -> frozenset[int]:
    """Line numbers from `[1, [3, 5], "7-8"]`; InvalidInput for anything else or out of range."""
    if value is None:
        return frozenset()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InvalidInput("'highlights' must be a list of line numbers or ranges")
    spans: list[tuple[int, int]] = []
    for item in value:
        if isinstance(item, str) and "-" in item:
            parts: Any = item.split("-", 1)
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            parts = list(item)
        else:
            parts = [item, item]
        try:
            start, end = (int(p) for p in parts)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
            raise InvalidInput(f"'highlights' item {item!r} is not a line or a range") from None
        if not 1 <= start <= end <= lines:
            raise InvalidInput(f"'highlights' item {item!r} is outside lines 1-{lines}")
        spans.append((start, end))
    # Each line added once, however many items overlap (a 1 MB scene repeating [1, 10000]).
    found: set[int] = set()
    covered = 0
    for start, end in sorted(spans):
        found.update(range(max(start, covered + 1), end + 1))
        covered = max(covered, end)
    return frozenset(found)


def typing_rate(event: RenderEvent, chars: int, lines: int) -> float:
    """Characters per second; infinite for `instant`."""
    if event.typing is None:
        return math.inf
    needed = chars + LINE_PAUSE * lines
    if event.typing > 0:
        return max(event.typing, needed / event.duration)
    return needed / (event.duration * TYPED_SHARE)


def visible_counts(line_lengths: Sequence[int], rate: float, fps: int, frames: int) -> list[int]:
    """For each frame, how many characters (line breaks not counted) are visible."""
    total = sum(line_lengths)
    if math.isinf(rate):
        return [total] * frames
    # The moment (in character-times) each character appears, pauses included.
    appear: list[float] = []
    clock = 0.0
    for length in line_lengths:
        for _ in range(length):
            clock += 1
            appear.append(clock)
        clock += LINE_PAUSE
    counts, shown = [], 0
    for frame in range(frames):
        budget = frame / fps * rate
        while shown < total and appear[shown] <= budget:
            shown += 1
        counts.append(shown)
    return counts
