"""Hostile provider responses through Dagster (emulator fault bodies): the node ends failed with
a readable reason (no traceback, no key) or recovers — never left in progress."""

from __future__ import annotations

import json

import pytest

from tests.e2e.narration import nodes, run
from tests.e2e.test_animation_pipeline import KEY, animation_doc, providers
from video_dagster.emulators.faults import Fault

RUNWAY = {"provider": "runway", "duration": 5}
TASKS = r"^/v1/tasks/"


def task(**fields) -> str:
    return json.dumps({"id": "t", "createdAt": 0, **fields})


FAILS = {
    "submit returns a path-traversal job id": (
        Fault("POST", r"_to_video$", body=json.dumps({"id": "../../v1/organization"})),
        "Provider:bad_response", "unusable job id"),
    "poll answers 200 with an HTML page": (
        Fault("GET", TASKS, body="<html><h1>Gateway</h1></html>", content_type="text/html"),
        "Provider:bad_response", "non-JSON"),
    "poll answers NaN": (
        Fault("GET", TASKS, body='{"status": "RUNNING", "progress": NaN}'),
        "Provider:bad_response", "non-JSON"),
    "output link points at a local file": (
        Fault("GET", TASKS, body=task(status="SUCCEEDED", output=["file:///etc/passwd"])),
        "Provider:unsafe_url", "refusing to download"),
    "output link points at the metadata service": (
        Fault("GET", TASKS, body=task(status="SUCCEEDED",
                                      output=["http://169.254.169.254/latest/meta-data/"])),
        "Provider:unsafe_url", "internal address"),
    "failure message echoes the key": (
        Fault("GET", TASKS, body=task(status="FAILED", failureCode="INTERNAL",
                                      failure=f"token {KEY} rejected")),
        "ProviderJobFailed", "rejected"),
}


@pytest.mark.parametrize("name", sorted(FAILS))
def test_hostile_response_fails_the_node_clearly(name, engine, resources, instance, emus):
    fault, error_type, message = FAILS[name]
    emus.runway.faults.add(fault)
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance, animation_doc(RUNWAY, image=False))
    anim = nodes(engine, pid)["Anim"]
    assert not result.success and anim.status == "failed"
    error = anim.metadata["error"]
    assert anim.metadata["error_type"] == error_type and message in error, error
    assert "Traceback" not in error and KEY not in json.dumps(anim.metadata)
    assert emus.runway.submits <= 1


RECOVERS = {
    "progress abc then 1e308": [
        Fault("GET", TASKS, body=task(status="RUNNING", progress="abc")),
        Fault("GET", TASKS, body=task(status="RUNNING", progress=1e308))],
    "429 with Retry-After nan, -1 and 1e9": [
        Fault("GET", TASKS, 429, retry_after=float("nan")),
        Fault("GET", TASKS, 429, retry_after=-1),
        Fault("GET", TASKS, 429, retry_after=1e9)],
    "an unknown status for a while": [
        Fault("GET", TASKS, body=task(status="WARMING_UP" * 50), times=2)],
}


@pytest.mark.parametrize("name", sorted(RECOVERS))
def test_odd_but_harmless_responses_recover(name, engine, resources, instance, emus):
    for fault in RECOVERS[name]:
        emus.runway.faults.add(fault)
    resources = {**resources, "providers": providers(emus, retry_max_delay=0.05)}
    pid, result = run(engine, resources, instance, animation_doc(RUNWAY, image=False))
    anim = nodes(engine, pid)["Anim"]
    assert result.success, anim.metadata
    assert emus.runway.submits == 1
    assert 0 <= anim.metadata.get("progress", 0) <= 1
    assert len(str(anim.metadata.get("stage", ""))) <= 40


@pytest.mark.parametrize(("config", "emulator"), [
    ({"provider": "veo3", "aspectRatio": "1:1", "duration": 4}, "veo"),
    ({"provider": "runway", "aspectRatio": "1:1", "duration": 5}, "runway"),
])
def test_an_aspect_the_model_cannot_make_is_refused_before_paying(
        config, emulator, engine, resources, instance, emus):
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance, animation_doc(config, image=False))
    anim = nodes(engine, pid)["Anim"]
    assert not result.success and anim.metadata["error_type"] == "InvalidConfig"
    assert "aspectRatio 1:1" in anim.metadata["error"]
    assert getattr(emus, emulator).submits == 0


def test_heygen_409_request_in_progress_waits_for_the_first_submit(
        engine, resources, instance, emus):
    """The submit times out before HeyGen has processed it; the keyed resend meets 409
    `request_in_progress` and waits for the first one's video instead of failing the node."""
    from tests.e2e import narration

    emus.heygen.faults.add(Fault("POST", "^/v3/videos$", delay=1.5))
    resources = {**resources, "providers": narration.providers(
        emus, timeout=1.0, retry_base_delay=0.5, retry_max_delay=1.0, retry_attempts=6)}
    pid, result = run(engine, resources, instance)
    got = nodes(engine, pid)
    assert result.success, {t: n.metadata.get("error") for t, n in got.items()}
    assert emus.heygen.submits == 1
    assert emus.heygen.counters["POST /v3/videos"] >= 2  # the resend happened


def test_the_gemini_key_does_not_follow_the_download_redirect(engine, resources, instance,
                                                             emus):
    """Gemini file downloads redirect to another origin (Google storage): the key stays home."""
    assert emus.veo.files_origin and emus.veo.files_origin != emus.veo_url
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance,
                      animation_doc({"provider": "veo3", "duration": 4}, image=False))
    assert result.success, nodes(engine, pid)["Anim"].metadata
    assert emus.veo.counters.get("GET /_files", 0) >= 1
    assert emus.veo.counters.get("files_with_key", 0) == 0


def test_a_runway_prompt_of_emoji_is_cut_in_utf16_units(engine, resources, instance, emus):
    """Runway counts promptText in UTF-16 units: 900 emoji are 1800 of them, over the 1000
    limit even though a code-point slice keeps all 900."""
    doc = {"title": "emoji", "nodes": [{"id": "a", "title": "Anim", "type": "generate-animation",
                                         "config": {**RUNWAY, "prompt": "🚣" * 900}}]}
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance, doc)
    assert result.success, nodes(engine, pid)["Anim"].metadata
    assert emus.runway.submits == 1


def test_an_absurd_billed_duration_is_not_the_cost(engine, resources, instance, emus):
    """HeyGen reports 1e300 s for the video: the cost follows the file we received."""
    from tests.e2e import narration

    emus.heygen.report_duration = 1e300
    resources = {**resources, "providers": narration.providers(emus)}
    pid, result = run(engine, resources, instance)
    head = nodes(engine, pid)["Head"]
    assert result.success, head.metadata
    assert head.metadata["costDetail"]["quantity"] == pytest.approx(head.output["duration"],
                                                                   abs=0.01)
    assert head.metadata["cost"] < 10
