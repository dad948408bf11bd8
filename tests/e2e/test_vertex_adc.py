"""Veo on Vertex authenticated by Application Default Credentials: google-auth's own
service-account path against the emulator's token endpoint. The token goes out as a bearer, is
cached until near expiry, and never reaches metadata or logs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.narration import nodes, pipeline_meta, run
from tests.e2e.test_animation_pipeline import animation_doc, providers
from video_dagster.resources.providers import adc
from video_dagster.resources.providers.base import ProviderError

EMAIL = "vd-render@adc-project.iam.gserviceaccount.com"


@pytest.fixture
def credentials(emus, tmp_path, monkeypatch):
    """A generated service-account key file whose token_uri is the emulator; ADC points at it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "adc-project", "private_key_id": "k1",
            "private_key": pem, "client_email": EMAIL, "client_id": "1",
            "token_uri": f"{emus.veo_url}/token"}
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(info))
    emus.veo.oauth.accounts[EMAIL] = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    emus.veo.vertex_token = "static-token-not-used"  # only an issued token is accepted
    for name in ("VERTEX_ACCESS_TOKEN", "GOOGLE_CLOUD_PROJECT", "VERTEX_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setattr(adc, "_CACHE", {})
    return path


def test_vertex_node_authenticates_with_adc(engine, resources, instance, emus, credentials,
                                            caplog):
    caplog.set_level("DEBUG")
    resources = {**resources, "providers": providers(
        emus, vertex_access_token=None, vertex_project=None)}
    config = {"provider": "veo3", "backend": "vertex", "duration": 4}
    pid, result = run(engine, resources, instance, animation_doc(config, image=False))
    anim = nodes(engine, pid)["Anim"]
    assert result.success, anim.metadata
    assert emus.veo.counters["POST /token"] == 1  # one token for the submit and every poll
    (token,) = emus.veo.oauth.issued
    assert emus.veo.oauth.used[token] >= 2  # sent as `Authorization: Bearer <token>`
    assert all(name.startswith("projects/adc-project/") for name in emus.veo.operations)
    stored = json.dumps([anim.metadata, anim.output, pipeline_meta(engine, pid)], default=str)
    logs = "\n".join(str(entry) for entry in instance.all_logs(result.run_id))
    for text in (stored, logs, caplog.text):
        assert token not in text and EMAIL not in text


def test_token_is_cached_until_near_expiry(emus, credentials):
    source = adc.adc_token()
    assert source is adc.adc_token() and source.project == "adc-project"
    first = [source() for _ in range(3)]
    assert len(set(first)) == 1 and emus.veo.counters["POST /token"] == 1
    # Within google-auth's refresh margin of expiry: the next call fetches a fresh token.
    source.credentials.expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(
        seconds=60)
    assert source() != first[0] and emus.veo.counters["POST /token"] == 2


def test_a_refused_key_is_one_clear_error(emus, credentials):
    emus.veo.oauth.accounts.clear()  # the key was deleted on Google's side
    with pytest.raises(ProviderError) as err:
        adc.adc_token()()
    assert err.value.code == "auth_failed" and "Invalid JWT Signature" in str(err.value)
    assert "PRIVATE KEY" not in str(err.value)
