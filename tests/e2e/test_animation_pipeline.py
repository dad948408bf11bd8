"""generate-animation through Dagster on the Veo (Gemini, Vertex) and Runway emulators."""

from __future__ import annotations

import subprocess

import pytest
from dagster._core.errors import DagsterExecutionInterruptedError

from tests.e2e.narration import nodes, run
from video_dagster.assets.executors.provider_common import probe
from video_dagster.emulators.faults import Fault
from video_dagster.emulators.media import ffmpeg
from video_dagster.resources.providers.resource import ProvidersResource

KEY = "emulator-key"
IMAGE_KEY = "library/refs/first_frame.png"


def providers(emus, **overrides) -> ProvidersResource:
    settings = dict(gemini_api_key=KEY, gemini_base_url=emus.veo_url,
                    vertex_access_token=KEY, vertex_base_url=emus.veo_url, vertex_project="p",
                    runway_api_key=KEY, runway_base_url=emus.runway_url, emulate="never",
                    veo_poll_interval=0.05, veo_poll_max_interval=0.2,
                    runway_poll_interval=0.05, runway_poll_max_interval=0.2,
                    retry_base_delay=0.01, retry_max_delay=0.2, retry_attempts=4, timeout=10.0)
    return ProvidersResource(**{**settings, **overrides})


@pytest.fixture
def reference_image(store, tmp_path):
    path = tmp_path / "ref.png"
    subprocess.run([ffmpeg(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x180:rate=1", "-frames:v", "1", str(path)], check=True,
                   timeout=60)
    store.put_file(IMAGE_KEY, path)
    return IMAGE_KEY


def animation_doc(config, image: bool = True) -> dict:
    nodes_ = [{"id": "p", "title": "Prompt", "type": "asset",
               "asset": {"type": "text", "content": "A paper boat sails across a lake"}}]
    inputs = {"prompt": "p"}
    if image:
        nodes_.append({"id": "i", "title": "Frame", "type": "asset",
                       "asset": {"type": "image", "s3Key": IMAGE_KEY}})
        inputs["referenceImage"] = "i"
    nodes_.append({"id": "a", "title": "Anim", "type": "generate-animation", "inputs": inputs,
                   "config": config})
    return {"title": "animation", "nodes": nodes_}


CASES = {
    "veo on the gemini api, 5 s mapped to 6": (
        {"provider": "veo3", "duration": 5}, True, 6, (1280, 720), "veo"),
    "veo on vertex, portrait": (
        {"provider": "veo3", "backend": "vertex", "duration": 8, "aspectRatio": "9:16",
         "seed": 7, "generateAudio": True}, False, 8, (720, 1280), "veo"),
    "runway gen4.5 with a first frame": (
        {"provider": "runway", "duration": 5}, True, 5, (1280, 720), "runway"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_animation_completes_with_requested_duration_and_aspect(
        name, engine, resources, instance, store, emus, reference_image, tmp_path):
    config, image, seconds, size, emulator = CASES[name]
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance, animation_doc(config, image))
    anim = nodes(engine, pid)["Anim"]
    assert result.success, anim.metadata
    store.get_to_file(anim.output["s3Key"], tmp_path / "a.mp4")
    seen = probe(tmp_path / "a.mp4")
    assert seen.duration == pytest.approx(seconds, abs=0.1)
    assert (seen.width, seen.height) == size == (anim.output["width"], anim.output["height"])
    assert anim.metadata["duration"]["requested"] == config["duration"]
    assert anim.metadata["duration"]["used"] == seconds
    assert anim.metadata["cost"] > 0 and anim.metadata["costDetail"]["unit"] == "second"
    assert getattr(emus, emulator).submits == 1


FAILS = {
    "veo safety filter": ({"provider": "veo3"}, "veo", "rai_next", "SafetyFiltered",
                          "change the prompt"),
    "veo operation error": ({"provider": "veo3", "backend": "vertex"}, "veo", "error_next",
                            "ProviderJobFailed", "internal error"),
    "veo unknown model": ({"provider": "veo3", "model": "veo-3.0-generate-001"}, None, None,
                          "ModelNotFound", "set config.model"),
    "runway input safety": ({"provider": "runway"}, "runway", "SAFETY.INPUT.TEXT",
                            "SafetyFiltered", "not retried"),
    "runway output safety": ({"provider": "runway"}, "runway", "SAFETY.OUTPUT.VIDEO",
                             "SafetyFiltered", "change the prompt and re-run"),
    "stability": ({"provider": "stability"}, None, None, "UnsupportedProvider",
                  "set provider to veo3 or runway"),
}


@pytest.mark.parametrize("name", sorted(FAILS))
def test_failure_classes_end_in_clear_reasons(name, engine, resources, instance, emus,
                                              reference_image):
    config, emulator, switch, error_type, message = FAILS[name]
    if emulator == "veo":
        setattr(emus.veo, switch, 1)
    elif emulator == "runway":
        emus.runway.fail_next.append(switch)
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance, animation_doc(config))
    anim = nodes(engine, pid)["Anim"]
    assert not result.success and anim.status == "failed"
    assert anim.metadata["error_type"] == error_type and message in anim.metadata["error"]
    assert emus.veo.submits + emus.runway.submits <= 1


RECOVERS = {
    "veo 429 RESOURCE_EXHAUSTED on submit": (
        {"provider": "veo3"}, "veo", Fault("POST", r":predictLongRunning$", 429,
                                           "RESOURCE_EXHAUSTED", "Quota exceeded", times=2)),
    "runway THROTTLED phases": ({"provider": "runway"}, "runway", None),
    "runway expired output link": ({"provider": "runway"}, "runway",
                                   Fault("GET", "^/_files/", 403)),
    "gemini expired download link": ({"provider": "veo3"}, "veo",
                                     Fault("GET", "^/_files/", 404)),
}


@pytest.mark.parametrize("name", sorted(RECOVERS))
def test_transient_faults_recover_with_one_submit(name, engine, resources, instance, emus,
                                                  reference_image):
    config, emulator, fault = RECOVERS[name]
    state = getattr(emus, emulator)
    if fault is None:
        state.throttled_polls = 3
    else:
        state.faults.add(fault)
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance, animation_doc(config))
    anim = nodes(engine, pid)["Anim"]
    assert result.success, anim.metadata
    assert state.submits == 1


def test_terminated_run_cancels_the_runway_task(engine, resources, instance, emus,
                                                reference_image, monkeypatch):
    import video_dagster.assets.execute as execute

    emus.runway.hold = True
    real_sleep = execute.time.sleep

    def terminated(seconds):  # Dagster raises this inside the step when a run is terminated
        if emus.runway.tasks and next(iter(emus.runway.tasks.values())).status == "RUNNING":
            raise DagsterExecutionInterruptedError()
        real_sleep(seconds)

    monkeypatch.setattr(execute.time, "sleep", terminated)
    resources = {**resources, "providers": providers(emus)}
    pid, result = run(engine, resources, instance, animation_doc({"provider": "runway"}))
    anim = nodes(engine, pid)["Anim"]
    assert not result.success and anim.status == "failed"
    assert anim.metadata["error_type"] == "Aborted"
    assert emus.runway.counters.get("tasks_cancelled") == 1
    assert next(iter(emus.runway.tasks.values())).status == "CANCELLED"
    assert anim.metadata["provider_job"]["state"] == "cancelled"


@pytest.mark.parametrize("backend", ["gemini", "runway"])
def test_rerun_after_a_timeout_resumes_the_same_job(backend, engine, resources, instance, emus,
                                                    reference_image):
    config = {"provider": "runway"} if backend == "runway" else {"provider": "veo3"}
    state = emus.runway if backend == "runway" else emus.veo
    state.hold = True
    slow = providers(emus, veo_timeout=0.4, runway_timeout=0.4)
    pid, _ = run(engine, {**resources, "providers": slow}, instance, animation_doc(config))
    anim = nodes(engine, pid)["Anim"]
    assert anim.status == "failed" and anim.metadata["error_type"] == "Timeout"
    job = anim.metadata["provider_job"]["id"]
    state.hold = False
    _, result = run(engine, {**resources, "providers": providers(emus)}, instance, pid=pid,
                    tags={"video/trigger": "auto"})
    anim = nodes(engine, pid)["Anim"]
    assert result.success and anim.metadata["job_id"] == job
    assert state.submits == 1
