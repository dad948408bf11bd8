"""The shared provider HTTP base against httpx.MockTransport, and the clients against the
emulator apps in-process (Starlette's TestClient is an httpx.Client)."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from starlette.testclient import TestClient

from video_dagster.emulators import elevenlabs as el_emu
from video_dagster.emulators import heygen as hg_emu
from video_dagster.resources.providers import elevenlabs, heygen
from video_dagster.resources.providers.base import (
    ProviderError,
    ProviderHTTP,
    RetryPolicy,
    retry_after_seconds,
)

SECRET = "sk_test_abcdefghijklmnop"


def http(handler, sleeps, **kwargs) -> ProviderHTTP:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return ProviderHTTP("acme", "https://api.acme.test", {"x-api-key": SECRET}, client,
                        RetryPolicy(attempts=4, base_delay=0.1, max_delay=5), sleep=sleeps.append,
                        **kwargs)


def test_backoff_grows_with_jitter_and_retry_after_wins():
    policy = RetryPolicy(attempts=5, base_delay=1, max_delay=8, jitter=0.25)
    for attempt, raw in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 8)):
        assert raw * 0.75 <= policy.delay(attempt) <= raw * 1.25
    assert policy.delay(3, retry_after=0.5) == 0.5
    assert policy.delay(1, retry_after=100) == 8  # capped
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_seconds(httpx.Response(429, headers={"Retry-After": date})) <= 31
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    assert retry_after_seconds(httpx.Response(429)) is None


def test_429_is_retried_honouring_retry_after_and_sends_auth():
    calls, sleeps = [], []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"}, json={})
        return httpx.Response(200, json={"ok": True})

    assert http(handler, sleeps).json("GET", "/v1/thing") == {"ok": True}
    assert len(calls) == 2 and sleeps == [3.0]
    assert calls[0].headers["x-api-key"] == SECRET


@pytest.mark.parametrize(("key", "sent"), [(None, 1), ("idem-1", 2)])
def test_billable_submit_is_resent_after_a_500_only_with_an_idempotency_key(key, sent):
    calls, sleeps = [], []

    def handler(request):
        calls.append(request.headers.get("Idempotency-Key"))
        return httpx.Response(500 if len(calls) == 1 else 200, json={})

    client = http(handler, sleeps)
    if key is None:
        with pytest.raises(ProviderError) as err:
            client.request("POST", "/v1/jobs", billable=True)
        assert err.value.status == 500
    else:
        client.request("POST", "/v1/jobs", billable=True, idempotency_key=key)
        assert calls == [key, key]
    assert len(calls) == sent


def test_billable_submit_rejected_with_429_is_resent_even_without_a_key():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(429 if len(calls) == 1 else 200, json={})

    http(handler, []).request("POST", "/v1/jobs", billable=True)
    assert len(calls) == 2


def test_timeout_after_sending_a_billable_call_is_not_resent():
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(ProviderError, match="not resent") as err:
        http(handler, []).request("POST", "/v1/jobs", billable=True)
    assert len(calls) == 1 and err.value.code == "outcome_unknown" and not err.value.retryable


def test_connect_errors_are_retried_then_fail_clearly():
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderError, match="cannot reach") as err:
        http(handler, []).request("POST", "/v1/jobs", billable=True)
    assert len(calls) == 4 and err.value.code == "connect_error"


def test_errors_carry_the_provider_message_but_never_the_key():
    def handler(request):
        return httpx.Response(401, json={"error": {"code": "unauthorized",
                                                   "message": f"bad key {SECRET}"}})

    with pytest.raises(ProviderError) as err:
        http(handler, [], parse_error=heygen.parse_error).request("GET", "/v3/videos/1")
    assert err.value.code == "unauthorized" and SECRET not in str(err.value)
    assert "bad key ***" in str(err.value)


def test_download_follows_redirects_and_refreshes_an_expired_link(tmp_path):
    seen = []

    def handler(request):
        seen.append(str(request.url))
        if request.url.path == "/old":
            return httpx.Response(403, text="AccessDenied")
        if request.url.path == "/new":
            return httpx.Response(302, headers={"Location": "https://cdn.acme.test/bytes"})
        return httpx.Response(200, content=b"x" * 1000)

    size = http(handler, []).download("https://cdn.acme.test/old", tmp_path / "f",
                                      refresh=lambda: "https://cdn.acme.test/new")
    assert size == 1000 and (tmp_path / "f").read_bytes() == b"x" * 1000
    assert [u.rsplit("/", 1)[1] for u in seen] == ["old", "new", "bytes"]


def test_split_text_keeps_sentences_whole_under_the_limit():
    text = "One two three. Four five six seven! Eight? " + "word " * 30
    chunks = elevenlabs.split_text(text, 40)
    assert all(len(c) <= 40 for c in chunks)
    assert chunks[0] == "One two three. Four five six seven!"
    assert " ".join(chunks).split() == text.split()


def _eleven(state) -> elevenlabs.ElevenLabsClient:
    client = TestClient(el_emu.build_app(state), base_url="http://el.test")
    return elevenlabs.ElevenLabsClient(ProviderHTTP(
        "elevenlabs", "http://el.test", {"xi-api-key": state.api_key}, client,
        RetryPolicy(attempts=3, base_delay=0.01), parse_error=elevenlabs.parse_error,
        retryable=elevenlabs.is_retryable))


def test_elevenlabs_contract_against_the_emulator(tmp_path):
    state = el_emu.ElevenLabsState(api_key="k")
    client = _eleven(state)
    speech = client.speak("21m00Tcm4TlvDq8ikWAM", {"text": "Hi there.",
                                                   "model_id": "eleven_flash_v2_5"},
                          "mp3_44100_128", tmp_path / "a.mp3")
    assert speech.content_type == "audio/mpeg" and speech.size > 0
    assert speech.character_cost == 4.5 and speech.request_id
    with pytest.raises(ProviderError) as err:
        client.speak("nobody", {"text": "x"}, "mp3_44100_128", tmp_path / "b.mp3")
    assert err.value.code == "voice_not_found" and err.value.status == 404
    with pytest.raises(ProviderError) as err:
        client.speak("21m00Tcm4TlvDq8ikWAM", {"model_id": "m"}, "mp3_44100_128",
                     tmp_path / "c.mp3")
    assert err.value.status == 422 and "body.text: field required" in err.value.message
    client.http.auth_headers = {"xi-api-key": "wrong"}
    with pytest.raises(ProviderError) as err:
        client.speak("21m00Tcm4TlvDq8ikWAM", {"text": "x"}, "mp3_44100_128", tmp_path / "d")
    assert err.value.code == "invalid_api_key" and err.value.status == 401
    assert state.counters["tts_billed"] == 1


def test_heygen_contract_against_the_emulator(tmp_path):
    state = hg_emu.HeyGenState(api_key="k", render_seconds=0.0)
    app = TestClient(hg_emu.build_app(state), base_url="http://hg.test")
    state.base_url = "http://hg.test"
    client = heygen.HeyGenClient(ProviderHTTP("heygen", "http://hg.test", {"x-api-key": "k"},
                                              app, RetryPolicy(attempts=3, base_delay=0.01),
                                              parse_error=heygen.parse_error))
    from video_dagster.emulators.media import make_speech

    make_speech("Hello avatar.", tmp_path / "a.mp3")
    asset = client.upload_asset(tmp_path / "a.mp3", "asset-key")
    payload = {"type": "avatar", "avatar_id": "look", "audio_asset_id": asset,
               "resolution": "720p", "aspect_ratio": "16:9"}
    first = client.create_video(payload, "idem")
    assert client.create_video(payload, "idem") == first  # replayed, not billed again
    assert state.submits == 1
    status = client.get_video(first)
    assert status.state == "succeeded" and status.duration and status.video_url
    assert client.download(status, tmp_path / "v.mp4") > 0
    with pytest.raises(ProviderError) as err:
        client.get_video("missing")
    assert err.value.status == 404 and err.value.code == "not_found"
    assert heygen.resolution_for(1920, 1080) == ("1080p", "16:9")
    assert heygen.resolution_for(720, 1280) == ("720p", "9:16")


def test_gemini_and_vertex_veo_contracts_against_the_emulator(tmp_path):
    from video_dagster.emulators import veo as veo_emu
    from video_dagster.resources.providers import veo

    state = veo_emu.VeoState(api_key="k", vertex_token="tok", render_seconds=0.0)
    app = TestClient(veo_emu.build_app(state), base_url="http://veo.test")
    state.base_url = "http://veo.test"
    retry = RetryPolicy(attempts=3, base_delay=0.01)
    gemini = veo.GeminiVeoClient(ProviderHTTP("veo", "http://veo.test", {"x-goog-api-key": "k"},
                                              app, retry, parse_error=veo.parse_error))
    name = gemini.submit("veo-3.1-generate-preview", {"prompt": "a boat"},
                         {"durationSeconds": 4, "aspectRatio": "16:9"})
    assert name.startswith("models/veo-3.1-generate-preview/operations/")
    op = gemini.get(name)
    assert op.done and op.uris and op.uris[0].endswith(":download?alt=media")
    assert gemini.download(op.uris[0], tmp_path / "g.mp4") > 0  # through the 302
    with pytest.raises(ProviderError) as err:
        gemini.submit("veo-3.0-generate-001", {"prompt": "x"}, {"durationSeconds": 4})
    assert err.value.status == 404 and err.value.code == "NOT_FOUND"
    vertex = veo.VertexVeoClient(ProviderHTTP("vertex", "http://veo.test",
                                              {"Authorization": "Bearer tok"}, app, retry,
                                              parse_error=veo.parse_error), "proj", "us-central1")
    name = vertex.submit("veo-3.1-generate-001", {"prompt": "a boat"}, {"durationSeconds": 6})
    assert name.startswith("projects/proj/locations/us-central1/publishers/google/models/")
    op = vertex.get(name)
    assert op.done and op.inline and op.inline[0][4:8] == b"ftyp"
    state.rai_next = 1
    filtered = gemini.get(gemini.submit("veo-3.1-generate-preview", {"prompt": "x"},
                                        {"durationSeconds": 4}))
    assert filtered.done and not filtered.uris and filtered.rai_filtered == 1
    vertex.http.auth_headers = {"Authorization": "Bearer wrong"}
    with pytest.raises(ProviderError) as err:
        vertex.submit("veo-3.1-generate-001", {"prompt": "x"}, {"durationSeconds": 4})
    assert err.value.status == 401 and "wrong" not in str(err.value)


def test_runway_contract_against_the_emulator(tmp_path):
    from video_dagster.emulators import runway as rw_emu
    from video_dagster.resources.providers import runway

    state = rw_emu.RunwayState(api_key="k", render_seconds=0.0, throttled_polls=1)
    app = TestClient(rw_emu.build_app(state), base_url="http://rw.test")
    state.base_url = "http://rw.test"
    headers = {"Authorization": "Bearer k", "X-Runway-Version": runway.API_VERSION}
    client = runway.RunwayClient(ProviderHTTP("runway", "http://rw.test", headers, app,
                                              RetryPolicy(attempts=3, base_delay=0.01),
                                              parse_error=runway.parse_error))
    task_id = client.submit({"model": "gen4.5", "promptText": "a boat", "duration": 2,
                             "ratio": "1280:720"})
    assert client.get(task_id).status == "THROTTLED"
    done = client.get(task_id)
    assert done.status == "SUCCEEDED" and done.outputs
    assert client.download(done, tmp_path / "r.mp4") > 0
    with pytest.raises(ProviderError, match="duration must be one of"):
        client.submit({"model": "veo3", "promptText": "x", "duration": 5})
    client.http.auth_headers = {"Authorization": "Bearer k"}  # no version header
    with pytest.raises(ProviderError, match="X-Runway-Version") as err:
        client.get(task_id)
    assert err.value.status == 400
