"""Resources read the environment when used, not when the code location is imported."""

from __future__ import annotations

import os

from video_dagster.resources.from_env import EnvLambdaInvokerResource, EnvObjectStoreResource
from video_dagster.resources.object_store import LocalObjectStore, S3ObjectStore
from video_dagster.resources.providers.resource import ProvidersResource


class Recording(dict):
    """An environment that records every read."""

    def __init__(self, data):
        super().__init__(data)
        self.reads: list[str] = []

    def get(self, key, default=None):
        self.reads.append(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.reads.append(key)
        return super().__getitem__(key)


def test_building_resources_reads_no_environment(monkeypatch, tmp_path):
    env = Recording(os.environ)
    monkeypatch.setattr(os, "environ", env)
    store = EnvObjectStoreResource(local_root=str(tmp_path))
    invoker = EnvLambdaInvokerResource(log_dir=str(tmp_path / "l"))
    providers = ProvidersResource()
    ours = ("VIDEO_", "AWS_", "ELEVENLABS_", "HEYGEN_", "DATABASE_URL")
    assert [r for r in env.reads if r.startswith(ours)] == []  # Dagster reads its own flags
    env["VIDEO_STORE_BACKEND"] = "local"
    assert isinstance(store.get_store(), LocalObjectStore)
    assert "VIDEO_STORE_BACKEND" in env.reads
    env["VIDEO_STORE_BACKEND"] = "s3"
    env["AWS_REGION"] = "eu-west-1"
    assert isinstance(store.get_store(), S3ObjectStore)  # the same resource follows the env
    assert invoker.get_invoker() is invoker.get_invoker()
    del providers


def test_provider_key_in_env_selects_the_real_api(monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk_real")
    monkeypatch.delenv("ELEVENLABS_BASE_URL", raising=False)
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    monkeypatch.setenv("HEYGEN_BASE_URL", "http://127.0.0.1:9")  # an emulator served elsewhere
    got = ProvidersResource().get_providers()
    assert got.elevenlabs.http.base_url == "https://api.elevenlabs.io"
    assert got.elevenlabs.http.auth_headers == {"xi-api-key": "sk_real"}
    assert got.heygen.http.base_url == "http://127.0.0.1:9" and got.emulated == {"heygen"}
    monkeypatch.delenv("HEYGEN_BASE_URL")
    import pytest

    from video_dagster.resources.providers.base import ProviderError

    never = ProvidersResource(emulate="never").get_providers()
    assert never.elevenlabs.http.base_url == "https://api.elevenlabs.io"  # only what is used
    with pytest.raises(ProviderError, match="HEYGEN_API_KEY is not set"):
        never.heygen  # noqa: B018
