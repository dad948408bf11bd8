"""Readiness (DESIGN §3): pending or failed, valid, every referenced input completed."""

from __future__ import annotations

import pytest

from video_dagster.domain.readiness import is_ready, readiness_reason

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
AUDIO_ERR = {"audio": "is required for generate-talking-head nodes"}

CASES = [
    # (status, is_valid, input_statuses, validation_errors, reason)
    ("pending", True, {}, None, None),
    ("failed", True, {A: "completed"}, None, None),  # a failed node is retried
    ("pending", True, {A: "completed", B: "completed"}, None, None),
    ("in_progress", True, {}, None, "node is in_progress"),
    ("completed", True, {A: "completed"}, None, "node is completed"),
    ("in_progress", False, {A: "pending"}, AUDIO_ERR, "node is in_progress"),
    ("pending", False, {}, AUDIO_ERR,
     "node is invalid: audio: is required for generate-talking-head nodes"),
    ("pending", False, {}, {"audio": "x", "provider": "y"},
     "node is invalid: audio: x; provider: y"),
    ("pending", False, {}, None, "node is invalid"),
    ("failed", False, {A: "completed"}, {}, "node is invalid"),
    ("pending", True, {A: "in_progress"}, None, f"input {A} is in_progress"),
    ("pending", True, {A: "completed", B: "failed"}, None, f"input {B} is failed"),
    ("pending", True, {A: None}, None, f"input {A} does not exist"),
    ("pending", True, {A: "pending", B: None}, None,
     f"input {A} is pending (and 1 more input(s) not completed)"),
]


@pytest.mark.parametrize(("status", "is_valid", "inputs", "validation_errors", "reason"), CASES)
def test_readiness(
    status: str,
    is_valid: bool,
    inputs: dict[str, str | None],
    validation_errors: dict[str, str] | None,
    reason: str | None,
) -> None:
    assert readiness_reason(status, is_valid, inputs, validation_errors) == reason
    assert is_ready(status, is_valid, inputs) is (reason is None)
