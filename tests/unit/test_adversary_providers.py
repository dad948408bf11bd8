"""Hostile provider responses (a buggy API version or a man in the middle) against the clients:
each ends in a clear ProviderError or a bounded retry, never a crash, a hang or a stored key."""

from __future__ import annotations

import email.utils
import math
import time

import httpx
import pytest

from video_dagster.resources.providers import base, elevenlabs, heygen, runway, veo
from video_dagster.resources.providers.base import (
    ProviderError,
    ProviderHTTP,
    RetryPolicy,
    retry_after_seconds,
)

KEY = "sk_live_0123456789abcdef"


def http(handler, *, base_url="https://api.acme.test", headers=None, sleeps=None,
         **kwargs) -> ProviderHTTP:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return ProviderHTTP("acme", base_url, headers or {"x-api-key": KEY}, client,
                        RetryPolicy(attempts=3, base_delay=0.01, max_delay=5),
                        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
                        **kwargs)


@pytest.mark.parametrize(("value", "expected"), [
    ("nan", None), ("inf", None), ("-1", -1.0), ("1e9", 1e9), ("garbage", None),
    (email.utils.formatdate(time.time() - 3600, usegmt=True), 0.0),
    ("Tue, 01 Dec 99999 00:00:00 GMT", None),
])
def test_retry_after_values_give_a_bounded_finite_sleep(value, expected):
    got = retry_after_seconds(httpx.Response(429, headers={"Retry-After": value}))
    assert got == expected
    sleeps: list[float] = []
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(429 if len(calls) == 1 else 200, headers={"Retry-After": value},
                              json={"ok": True})

    assert http(handler, sleeps=sleeps).json("GET", "/v1/x") == {"ok": True}
    assert len(sleeps) == 1 and math.isfinite(sleeps[0]) and 0 <= sleeps[0] <= 5


@pytest.mark.parametrize("body", [
    b"<html><body>502 Bad Gateway</body></html>",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"id": NaN}', b'{"progress": Infinity}', b"\xff\xfe\x00",
])
def test_a_200_that_is_not_strict_json_is_a_clear_bad_response(body):
    def handler(request):
        return httpx.Response(200, content=body, headers={"content-type": "text/html"})

    with pytest.raises(ProviderError) as err:
        http(handler).json("GET", "/v1/tasks/abc")
    assert err.value.code == "bad_response" and "non-JSON" in err.value.message


def test_an_endless_json_body_is_cut_at_the_cap(monkeypatch):
    monkeypatch.setattr(base, "MAX_JSON_BYTES", 1000)

    def handler(request):
        return httpx.Response(200, content=iter([b'{"a": "' + b"x" * 600] * 10))

    with pytest.raises(ProviderError, match="returned over") as err:
        http(handler).json("GET", "/v1/x")
    assert err.value.code == "bad_response"


@pytest.mark.parametrize("job_id", [None, 42, "", "../../v1/organization", "a" * 10_000,
                                    "abc\x00def", "a/b", "id with space", "..", "é"])
def test_unusable_job_ids_are_refused_before_they_reach_a_url(job_id):
    def handler(request):
        if request.method == "POST":
            return httpx.Response(200, json={"id": job_id, "data": {"video_id": job_id}})
        raise AssertionError(f"polled {request.url}")

    with pytest.raises(ProviderError, match="unusable job id"):
        runway.RunwayClient(http(handler)).submit({"promptText": "x"})
    with pytest.raises(ProviderError, match="unusable job id"):
        heygen.HeyGenClient(http(handler)).create_video({"type": "avatar"}, "k")
    with pytest.raises(ProviderError, match="unusable job id"):
        runway.RunwayClient(http(handler)).get(job_id)  # a resumed id from metadata too


@pytest.mark.parametrize("name", ["models/m/operations/../../files", "models//operations/x",
                                  "/models/m", "models/m/operations/x\x00"])
def test_unusable_operation_names_are_refused(name):
    def handler(request):
        return httpx.Response(200, json={"name": name})

    with pytest.raises(ProviderError, match="unusable job id"):
        veo.GeminiVeoClient(http(handler)).submit("m", {"prompt": "p"}, {})


def test_real_operation_names_pass():
    name = ("projects/my-proj/locations/us-central1/publishers/google/models/"
            "veo-3.1-generate-001/operations/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab")
    assert base.safe_id("vertex", name, slashes=True) == name


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://cdn.acme.test/v.mp4", "/relative/path",
    "https://169.254.169.254/latest/meta-data/", "https://metadata.google.internal/x",
    "https://127.0.0.1/v.mp4", "https://10.0.0.5/v.mp4", "https://[::1]/v.mp4",
    "https://localhost/v.mp4", "http://cdn.acme.test/v.mp4", "https://xn--/v.mp4",
    "https://2130706433/v.mp4", "https://0x7f000001/v.mp4", "https://[::ffff:169.254.169.254]/",
])
def test_download_urls_to_local_files_or_internal_addresses_are_refused(url, tmp_path):
    def handler(request):
        raise AssertionError(f"fetched {request.url}")

    with pytest.raises(ProviderError) as err:
        http(handler).download(url, tmp_path / "v.mp4")
    assert err.value.code == "unsafe_url" and not (tmp_path / "v.mp4").exists()


def test_a_redirect_to_the_metadata_service_is_refused(tmp_path):
    def handler(request):
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/token"})

    with pytest.raises(ProviderError, match="internal address"):
        http(handler, base_url="http://127.0.0.1:9").download("http://127.0.0.1:9/f",
                                                              tmp_path / "f")


def test_loopback_downloads_stay_allowed_when_the_api_itself_is_on_loopback(tmp_path):
    def handler(request):
        return httpx.Response(200, content=b"video")

    assert http(handler, base_url="http://127.0.0.1:9").download(
        "http://127.0.0.1:9/_files/t", tmp_path / "f") == 5


def test_a_redirect_to_a_malformed_url_is_a_clear_error(tmp_path):
    def handler(request):
        return httpx.Response(302, headers={"Location": "https://xn--/x"})

    with pytest.raises(ProviderError, match="malformed"):
        http(handler).download("https://cdn.acme.test/f", tmp_path / "f")
    with pytest.raises(ProviderError, match="malformed redirect"):
        http(handler).json("GET", "/v1/tasks/t1")


def test_a_redirect_loop_ends_in_a_clear_error(tmp_path):
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(302, headers={"Location": str(request.url)})

    with pytest.raises(ProviderError, match="redirected more than") as err:
        http(handler).download("https://cdn.acme.test/loop", tmp_path / "f")
    assert err.value.code == "download_failed" and len(calls) == base.MAX_REDIRECTS + 1


def test_the_api_key_is_not_sent_to_another_origin_on_redirect(tmp_path):
    seen = {}

    def handler(request):
        seen[request.url.host] = request.headers.get("x-goog-api-key")
        if request.url.host == "api.acme.test":
            return httpx.Response(302, headers={"Location": "https://storage.cdn.test/bytes"})
        return httpx.Response(200, content=b"mp4")

    client = http(handler, headers={"x-goog-api-key": KEY})
    assert client.download("https://api.acme.test/v1beta/files/x:download?alt=media",
                           tmp_path / "f", with_auth=True) == 3
    assert seen == {"api.acme.test": KEY, "storage.cdn.test": None}


@pytest.mark.parametrize("declared", [True, False])
def test_a_download_far_larger_than_the_cap_is_cut_and_removed(declared, tmp_path):
    produced = []

    def chunks():
        for _ in range(1000):  # 64 MB if it were read whole
            produced.append(1)
            yield b"\0" * (64 << 10)

    def handler(request):
        headers = {"content-length": str(64 << 20)} if declared else {}
        return httpx.Response(200, headers=headers, content=chunks())

    with pytest.raises(ProviderError, match="larger than") as err:
        http(handler).download("https://cdn.acme.test/huge", tmp_path / "f", max_bytes=1 << 20)
    assert err.value.code == "too_large" and not (tmp_path / "f").exists()
    assert len(produced) <= 20  # streamed: stopped soon after the cap, never held whole


def test_an_audio_response_that_is_html_is_not_stored_as_speech(tmp_path):
    def handler(request):
        return httpx.Response(200, content=b"<html>login</html>",
                              headers={"content-type": "text/html; charset=utf-8",
                                       "character-cost": "nan"})

    client = elevenlabs.ElevenLabsClient(http(handler, headers={"xi-api-key": KEY}))
    with pytest.raises(ProviderError, match="instead of audio") as err:
        client.speak("v", {"text": "hi"}, "mp3_44100_128", tmp_path / "a.mp3")
    assert err.value.code == "bad_response"


def test_a_nan_character_cost_is_ignored_not_stored(tmp_path):
    def handler(request):
        return httpx.Response(200, content=b"ID3", headers={
            "content-type": "audio/mpeg", "character-cost": "nan", "request-id": "r" * 5000})

    got = elevenlabs.ElevenLabsClient(http(handler)).speak("v", {"text": "hi"}, "mp3",
                                                            tmp_path / "a.mp3")
    assert got.character_cost is None and got.request_id is None


@pytest.mark.parametrize(("progress", "expected"), [
    ("abc", None), (1e308, 1.0), (-5, 0.0), (True, None), (0.25, 0.25), (None, None)])
def test_runway_progress_is_a_number_in_0_1_or_nothing(progress, expected):
    def handler(request):
        return httpx.Response(200, json={"id": "t1", "status": "RUNNING", "progress": progress,
                                         "output": "not-a-list"})

    task = runway.RunwayClient(http(handler)).get("t1")
    assert task.progress == expected and task.state == "running" and task.outputs == ()


@pytest.mark.parametrize("body", [[1, 2], "text", None, 7])
def test_runway_task_of_the_wrong_shape_is_a_bad_response(body):
    def handler(request):
        return httpx.Response(200, json=body)

    with pytest.raises(ProviderError) as err:
        runway.RunwayClient(http(handler)).get("t1")
    assert err.value.code == "bad_response"


def test_an_echoed_bearer_token_is_redacted_from_job_failures_and_errors():
    token = "key_" + "ab" * 64

    def handler(request):
        if request.method == "DELETE":
            return httpx.Response(400, json={"error": f"bad token {token}"})
        return httpx.Response(200, json={"id": "t1", "status": "FAILED", "failureCode": "X",
                                         "failure": f"auth {token} rejected" + "!" * 5000})

    client = runway.RunwayClient(http(handler, headers={"Authorization": f"Bearer {token}"}))
    task = client.get("t1")
    assert token not in str(task.failure) and len(str(task.failure)) <= 500
    with pytest.raises(ProviderError) as err:
        client.cancel("t1")
    assert token not in str(err.value) and "***" in str(err.value)


def test_heygen_failure_message_and_non_finite_duration_are_made_safe():
    def handler(request):
        return httpx.Response(200, content=(
            '{"data": {"status": "failed", "duration": 1e999, "failure_message": "key '
            + KEY + ' is bad"}}').encode())

    got = heygen.HeyGenClient(http(handler)).get_video("vid1")
    assert got.duration is None and KEY not in str(got.failure) and got.state == "failed"


@pytest.mark.parametrize("body", [
    {"name": "models/m/operations/o", "done": True, "response": [1]},
    {"name": "models/m/operations/o", "done": True,
     "response": {"generateVideoResponse": {"generatedSamples": ["x"]}}},
    {"name": "models/m/operations/o", "done": True,
     "response": {"videos": [{"bytesBase64Encoded": "@@not base64@@"}]}},
    {"name": "models/m/operations/o", "done": True,
     "response": {"raiMediaFilteredCount": "abc"}},
    {"name": "models/m/operations/o", "done": True, "error": {"message": f"bad {KEY}"}},
])
def test_veo_operations_of_the_wrong_shape_are_bad_responses(body):
    def handler(request):
        return httpx.Response(200, json=body)

    client = veo.GeminiVeoClient(http(handler, headers={"x-goog-api-key": KEY}))
    if "error" in body:
        assert KEY not in str(client.get("models/m/operations/o").error)
        return
    with pytest.raises(ProviderError) as err:
        client.get("models/m/operations/o")
    assert err.value.code == "bad_response"


def test_an_endless_error_body_is_not_read_whole():
    produced = []

    def chunks():
        for _ in range(1000):
            produced.append(1)
            yield b"x" * (64 << 10)

    def handler(request):
        return httpx.Response(400, content=chunks())

    with pytest.raises(ProviderError) as err:
        http(handler).request("GET", "/v1/x")
    assert err.value.status == 400 and len(produced) <= 3


def test_emulators_refuse_aspects_the_real_apis_refuse():
    """Veo takes 16:9/9:16 only; Runway's ratios depend on the model (PROVIDERS.md §4.1, §5.1):
    an emulator that made a 16:9 clip for 1:1 hid the client sending it."""
    from starlette.testclient import TestClient

    from video_dagster.emulators import runway as rw_emu
    from video_dagster.emulators import veo as veo_emu

    veo_app = TestClient(veo_emu.build_app(veo_emu.VeoState(api_key="k")))
    got = veo_app.post("/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
                       headers={"x-goog-api-key": "k"},
                       json={"instances": [{"prompt": "p"}],
                             "parameters": {"aspectRatio": "1:1", "durationSeconds": 4}})
    assert got.status_code == 400 and got.json()["error"]["status"] == "INVALID_ARGUMENT"
    rw_app = TestClient(rw_emu.build_app(rw_emu.RunwayState(api_key="k")))
    headers = {"Authorization": "Bearer k", "X-Runway-Version": runway.API_VERSION}
    got = rw_app.post("/v1/text_to_video", headers=headers, json={
        "model": "gen4.5", "promptText": "p", "duration": 5, "ratio": "960:960"})
    assert got.status_code == 400 and "ratio must be one of" in got.json()["error"]
    assert runway.ratio_for("gen4.5", "1:1", True) == "960:960"
    assert runway.ratio_for("gen4.5", "1:1", False) is None
    assert runway.ratio_for("veo3.1", "9:16", False) == "720:1280"
    assert runway.ratio_for("veo3.1", "1:1", True) is None


def test_an_implausible_character_cost_is_not_billed(tmp_path):
    def handler(request):
        return httpx.Response(200, content=b"ID3", headers={
            "content-type": "audio/mpeg", "character-cost": "99999999"})

    got = elevenlabs.ElevenLabsClient(http(handler)).speak("v", {"text": "hi"}, "mp3",
                                                            tmp_path / "a.mp3")
    assert got.character_cost is None


@pytest.mark.parametrize("status", [None, "", 0, []])
def test_a_job_without_a_status_fails_now_instead_of_polling_to_the_deadline(status):
    def handler(request):
        return httpx.Response(200, json={"id": "t1", "status": status,
                                         "data": {"status": status}})

    with pytest.raises(ProviderError, match="has no status"):
        runway.RunwayClient(http(handler)).get("t1")
    with pytest.raises(ProviderError, match="has no status"):
        heygen.HeyGenClient(http(handler)).get_video("v1")
