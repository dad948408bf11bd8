"""JSON limits: depth, numbers and text, checked without recursion."""

from __future__ import annotations

import pytest

from video_dagster.domain import jsonlimits
from video_dagster.domain.validation import NodeDraft, validate_node


def _nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("text, reason", [
    ("NaN", "NaN is not a JSON number"),
    ("[1e999]", "out of range"),
    ('"a\\u0000"', "NUL"),
    ('{"\\udc00": 1}', "lone surrogate"),
    ("1" * 5000, "too large"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ("[" * 65 + "]" * 65, "nested too deeply"),
    ("{", "not JSON"),
])
def test_loads_refuses_with_one_line(text: str, reason: str) -> None:
    with pytest.raises(jsonlimits.JsonLimitError, match=reason) as info:
        jsonlimits.loads(text)
    assert "\n" not in str(info.value)


def test_loads_size_cap_comes_first() -> None:
    with pytest.raises(jsonlimits.JsonLimitError, match="more than the limit"):
        jsonlimits.loads(b" " * 100 + b"{}", max_bytes=50)
    assert jsonlimits.loads('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


def test_stored_loads_marks_instead_of_raising() -> None:
    marked = jsonlimits.stored_loads("[" * 5000 + "]" * 5000)
    assert marked == jsonlimits.Unreadable("is nested too deeply")
    assert jsonlimits.stored_loads(b'{"a": 1}') == {"a": 1}


def test_a_deep_but_parseable_config_is_invalid() -> None:
    draft = NodeDraft("n", "mix-audio", {}, {"provider": "ffmpeg", "x": _nested(500)})
    assert validate_node(draft, {"n"})["config"] == "is nested too deeply"
    draft = NodeDraft("n", "asset", jsonlimits.Unreadable("is nested too deeply"), {})
    assert validate_node(draft, {"n"}) == {"inputs": "is nested too deeply"}
