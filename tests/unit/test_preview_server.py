"""The loopback preview server: serves store objects (with ranges), nothing else."""

from __future__ import annotations

import httpx
import pytest

from video_dagster.preview import preview_link, serve
from video_dagster.resources.object_store import LocalObjectStore


@pytest.fixture
def served(tmp_path):
    store = LocalObjectStore(tmp_path / "objects", "video-dagster")
    store.put_bytes("pipelines/p/nodes/n/out.mp4", b"0123456789", content_type="video/mp4")
    (tmp_path / "secret.txt").write_text("not yours")
    server = serve(store)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_objects_are_served_whole_and_by_range(served):
    link = preview_link("pipelines/p/nodes/n/out.mp4", served)
    whole = httpx.get(link)
    assert whole.status_code == 200 and whole.content == b"0123456789"
    assert whole.headers["content-type"] == "video/mp4"
    part = httpx.get(link, headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"
    assert part.headers["content-range"] == "bytes 2-4/10"
    assert httpx.get(link, headers={"Range": "bytes=-3"}).content == b"789"


@pytest.mark.parametrize("path", [
    "/objects/../secret.txt", "/objects/%2E%2E/secret.txt", "/objects/a//b", "/etc/passwd",
    "/objects/pipelines/p/nodes/n/missing.mp4",
])
def test_nothing_outside_the_store_is_served(served, path):
    answer = httpx.get(served + path)
    assert answer.status_code in (400, 404)
    assert b"not yours" not in answer.content


def test_no_link_without_a_server(monkeypatch):
    monkeypatch.delenv("VIDEO_PREVIEW_URL", raising=False)
    assert preview_link("k") is None


def test_s3_objects_redirect_to_a_fresh_presigned_link(moto_endpoint, monkeypatch, tmp_path):
    import boto3

    from tests.conftest import use_fake_aws
    from video_dagster.resources.object_store import ObjectStoreResource

    use_fake_aws(monkeypatch, tmp_path, "preview-server-secret")
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    if "vd-preview-server" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="vd-preview-server")
    s3.put_object(Bucket="vd-preview-server", Key="pipelines/p/nodes/n/out.mp4", Body=b"s3 video")
    store = ObjectStoreResource(backend="s3", bucket="vd-preview-server",
                                endpoint_url=moto_endpoint, region_name="us-east-1").get_store()
    server = serve(store)
    try:
        link = preview_link("pipelines/p/nodes/n/out.mp4",
                            f"http://127.0.0.1:{server.server_address[1]}")
        assert "Signature" not in link  # the stored link holds no credential
        first = httpx.get(link)
        assert first.status_code == 302 and "Signature=" in first.headers["location"]
        assert httpx.get(link, follow_redirects=True).content == b"s3 video"
        assert httpx.get(link.replace("out.mp4", "gone.mp4")).status_code == 404
    finally:
        server.shutdown()
