"""Every injected provider fault ends in a bounded retry then success, or one clear failure —
never a node left in_progress, never a second paid submit."""

from __future__ import annotations

import pytest

from tests.e2e.narration import narration_doc, nodes, providers, run
from video_dagster.emulators.faults import Fault

HEYGEN_VIDEO = r"^/v3/videos/[0-9a-f]+$"
TTS = r"^/v1/text-to-speech/"

RECOVERS = {
    "tts 429 concurrency, no Retry-After": ("elevenlabs", Fault(
        "POST", TTS, 429, "too_many_concurrent_requests", times=2)),
    "tts 429 system busy with Retry-After": ("elevenlabs", Fault(
        "POST", TTS, 429, "system_busy", retry_after=0.05)),
    "tts 503": ("elevenlabs", Fault("POST", TTS, 503, "service_unavailable")),
    "tts slow but in time": ("elevenlabs", Fault("POST", TTS, delay=0.3)),
    "heygen submit 429 with Retry-After": ("heygen", Fault(
        "POST", "^/v3/videos$", 429, "rate_limit_exceeded", retry_after=0.05)),
    "heygen submit 502 (resent with its idempotency key)": ("heygen", Fault(
        "POST", "^/v3/videos$", 502, "bad_gateway")),
    "heygen submit response lost (timeout, idempotent resend)": ("heygen", Fault(
        "POST", "^/v3/videos$", delay_after=2.5)),
    "heygen poll 500 twice": ("heygen", Fault("GET", HEYGEN_VIDEO, 500, "internal", times=2)),
    "heygen upload 429": ("heygen", Fault("POST", "^/v3/assets$", 429, "rate_limit_exceeded")),
    "heygen expired download link": ("heygen", Fault("GET", "^/_files/", 403)),
}


@pytest.mark.parametrize("name", sorted(RECOVERS))
def test_fault_recovers_without_paying_twice(name, engine, resources, instance, emus):
    which, fault = RECOVERS[name]
    getattr(emus, which).faults.add(fault)
    resources = {**resources, "providers": providers(emus, timeout=1.5)}
    pid, result = run(engine, resources, instance)
    got = nodes(engine, pid)
    assert result.success, {t: n.metadata.get("error") for t, n in got.items()}
    assert {n.status for n in got.values()} == {"completed"}
    assert emus.heygen.submits == 1
    assert emus.elevenlabs.counters["tts_billed"] == 1


FAILS = {
    "tts response lost after billing": (
        "elevenlabs", Fault("POST", TTS, delay_after=2.5), "Voice",
        "not resent", "Provider:outcome_unknown"),
    "tts quota exceeded": (
        "elevenlabs", Fault("POST", TTS, 401, "quota_exceeded", "This request exceeds your "
                            "quota remaining."), "Voice", "quota remaining",
        "Provider:quota_exceeded"),
    "tts 5xx that never ends": (
        "elevenlabs", Fault("POST", TTS, 503, "service_unavailable", times=99), "Voice",
        "injected fault", "Provider:service_unavailable"),
    "heygen render fails": (
        "heygen", None, "Head", "Avatar rendering failed", "ProviderJobFailed"),
    "heygen out of credit": (
        "heygen", Fault("POST", "^/v3/videos$", 402, "insufficient_credit",
                        "Insufficient credit"), "Head", "Insufficient credit",
        "Provider:insufficient_credit"),
}


@pytest.mark.parametrize("name", sorted(FAILS))
def test_fault_fails_clearly(name, engine, resources, instance, emus):
    which, fault, title, message, error_type = FAILS[name]
    if fault is None:
        emus.heygen.fail_next = 1
    else:
        getattr(emus, which).faults.add(fault)
    resources = {**resources, "providers": providers(emus, timeout=1.5)}
    pid, result = run(engine, resources, instance)
    node = nodes(engine, pid)[title]
    assert not result.success
    assert node.status == "failed"
    assert message in node.metadata["error"] and node.metadata["error_type"] == error_type
    assert emus.heygen.submits <= 1
    assert emus.elevenlabs.counters.get("tts_billed", 0) <= 1


def test_unknown_voice_and_wrong_key_fail_without_leaking_the_key(engine, resources, instance,
                                                                  emus):
    secret = "sk_live_0123456789abcdef"
    resources = {**resources, "providers": providers(emus, heygen_api_key=secret)}
    pid, result = run(engine, resources, instance)
    head = nodes(engine, pid)["Head"]
    assert head.status == "failed" and head.metadata["error_type"] == "Provider:unauthorized"
    assert "Invalid API key" in head.metadata["error"]
    assert secret not in str(head.metadata) and secret not in str(
        [e.message for e in result.all_events if hasattr(e, "message")])
    pid, result = run(engine, resources, instance, narration_doc(voiceId="nobody"))
    voice = nodes(engine, pid)["Voice"]
    assert voice.status == "failed" and voice.metadata["error_type"] == "Provider:voice_not_found"
    assert "nobody was not found" in voice.metadata["error"]


def test_timeout_while_rendering_then_rerun_resumes_the_same_job(engine, resources, instance,
                                                                  emus):
    emus.heygen.hold = True
    slow = {**resources, "providers": providers(emus, heygen_timeout=0.5)}
    pid, result = run(engine, slow, instance)
    head = nodes(engine, pid)["Head"]
    assert head.status == "failed" and head.metadata["error_type"] == "Timeout"
    assert "a re-run resumes the same job" in head.metadata["error"]
    job = head.metadata["provider_job"]["id"]
    emus.heygen.hold = False
    # The ready sensor's retry run (trigger=auto): completed inputs are not redone.
    pid, result = run(engine, {**resources, "providers": providers(emus)}, instance, pid=pid,
                      tags={"video/trigger": "auto"})
    head = nodes(engine, pid)["Head"]
    assert result.success and head.status == "completed", head.metadata
    assert head.metadata["job_id"] == job
    assert emus.heygen.submits == 1


def test_run_killed_while_rendering_resumes_the_same_job_on_rerun(
    engine, resources, instance, emus, db_url, store_root, tmp_path
):
    import json
    import subprocess
    import sys
    import time

    from tests.e2e.narration import narration_doc
    from video_dagster.db import transfer
    from video_dagster.db.lifecycle import Lifecycle

    with engine.begin() as conn:
        pid = transfer.import_pipeline(conn, narration_doc())
    emus.heygen.hold = True
    settings = providers(emus).model_dump()
    args = {"db_url": db_url, "store_root": str(store_root), "lambda_dir": str(tmp_path / "l"),
            "pid": pid, "providers": settings}
    child = subprocess.Popen([sys.executable, "-m", "tests.e2e._narration_runner",
                              json.dumps(args)])
    try:
        deadline = time.monotonic() + 120
        while not (emus.heygen.submits == 1 and nodes(engine, pid)["Head"].metadata.get(
                "stage") == "processing"):
            assert child.poll() is None and time.monotonic() < deadline, "runner ended early"
            time.sleep(0.2)
    finally:
        child.kill()  # SIGKILL: no handler runs, the node is left in_progress
        child.wait()
    head = nodes(engine, pid)["Head"]
    assert head.status == "in_progress"
    job = head.metadata["job_id"]
    # What the run-failure sensor does for a dead run (tested with the sensors).
    Lifecycle(engine).failed(head.id, "run died", head.metadata["process_uuid"], "RunFailed")
    emus.heygen.hold = False
    _, result = run(engine, {**resources, "providers": providers(emus)}, instance, pid=pid,
                    tags={"video/trigger": "auto"})
    head = nodes(engine, pid)["Head"]
    assert result.success and head.status == "completed", head.metadata
    assert head.metadata["job_id"] == job
    assert emus.heygen.submits == 1


def test_remade_voiceover_is_a_new_render_not_a_resume(engine, resources, instance, emus):
    emus.heygen.hold = True
    pid, _ = run(engine, {**resources, "providers": providers(emus, heygen_timeout=0.3)},
                 instance)
    emus.heygen.hold = False
    # A forced re-run remakes the voiceover: the old job rendered the old audio.
    _, result = run(engine, {**resources, "providers": providers(emus)}, instance, pid=pid)
    assert result.success
    assert emus.heygen.submits == 2
