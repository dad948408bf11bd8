"""S3ObjectStore against moto's server on loopback (a real HTTP S3 API, no AWS account)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from tests.conftest import use_fake_aws
from video_dagster.resources.object_store import (
    ObjectNotFoundError,
    ObjectStoreError,
    ObjectStoreResource,
    S3ObjectStore,
)

SECRET = "fake-secret-key-must-never-be-printed"
MB = 1024 * 1024


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_fake_aws(monkeypatch, tmp_path, SECRET)


def _make_store(endpoint: str, *, create: bool = True, **kwargs: object) -> S3ObjectStore:
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    if create:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=bucket
        )
    return S3ObjectStore(bucket, endpoint_url=endpoint, region_name="us-east-1", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def store(endpoint: str) -> S3ObjectStore:
    return _make_store(endpoint)


def _random_file(path: Path, megabytes: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(megabytes):
            chunk = os.urandom(MB)
            hasher.update(chunk)
            out.write(chunk)
    return hasher.hexdigest()


def test_put_bytes_roundtrip_and_metadata(store: S3ObjectStore) -> None:
    store.put_bytes("callbacks/n/p.json", b'{"ok": true}', content_type="application/json")

    assert store.get_bytes("callbacks/n/p.json") == b'{"ok": true}'
    info = store.stat("callbacks/n/p.json")
    assert info is not None and info.size == 12 and info.key == "callbacks/n/p.json"
    assert info.etag == hashlib.md5(b'{"ok": true}').hexdigest()
    assert store.exists("callbacks/n/p.json")
    head = store.client.head_object(Bucket=store.bucket, Key="callbacks/n/p.json")
    assert head["ContentType"] == "application/json"


def test_put_file_multipart_and_streaming_get(store: S3ObjectStore, tmp_path: Path) -> None:
    digest = _random_file(tmp_path / "big.bin", 20)  # > 8 MB chunk: a multipart upload

    store.put_file("videos/big.mp4", tmp_path / "big.bin", content_type="video/mp4")
    store.get_to_file("videos/big.mp4", tmp_path / "copy.bin")

    assert hashlib.sha256((tmp_path / "copy.bin").read_bytes()).hexdigest() == digest
    assert store.stat("videos/big.mp4").size == 20 * MB  # type: ignore[union-attr]
    with store.open_read("videos/big.mp4") as stream:
        hasher = hashlib.sha256()
        while chunk := stream.read(MB):
            hasher.update(chunk)
    assert hasher.hexdigest() == digest
    head = store.client.head_object(Bucket=store.bucket, Key="videos/big.mp4")
    assert head["ContentType"] == "video/mp4"


def test_missing_key(store: S3ObjectStore, tmp_path: Path) -> None:
    assert store.stat("nope") is None
    assert not store.exists("nope")
    with pytest.raises(ObjectNotFoundError) as err:
        store.get_bytes("nope")
    assert err.value.code == "NoSuchKey" and err.value.bucket == store.bucket
    with pytest.raises(ObjectNotFoundError):
        store.get_to_file("nope", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_missing_bucket_is_an_error_not_a_missing_key(endpoint: str, tmp_path: Path) -> None:
    store = _make_store(endpoint, create=False)
    (tmp_path / "f").write_bytes(b"x")
    calls = {
        "put_bytes": lambda: store.put_bytes("k", b"x"),
        "put_file": lambda: store.put_file("k", tmp_path / "f"),
        "get_bytes": lambda: store.get_bytes("k"),
        "get_to_file": lambda: store.get_to_file("k", tmp_path / "g"),
        "stat": lambda: store.stat("k"),
        "exists": lambda: store.exists("k"),
        "list": lambda: list(store.list()),
    }
    for name, call in calls.items():
        with pytest.raises(ObjectStoreError) as err:
            call()
        assert err.value.code == "NoSuchBucket", name
        assert not isinstance(err.value, ObjectNotFoundError), name
        assert store.bucket in str(err.value) and SECRET not in str(err.value), name


def test_unreachable_endpoint_gives_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    store = S3ObjectStore("b", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          connect_timeout=1, max_attempts=1)
    with pytest.raises(ObjectStoreError) as err:
        store.put_bytes("k", b"x")
    assert err.value.code == "EndpointConnectionError" and SECRET not in str(err.value)


def test_list_paginates_in_key_order(store: S3ObjectStore) -> None:
    keys = [f"callbacks/n{i % 3}/{i:03d}.json" for i in range(30)] + ["other/x", "callbacks0"]
    for key in keys:
        store.put_bytes(key, b"{}")
    store.page_size = 10
    requests: list[dict] = []
    store.client.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: requests.append(dict(params))
    )

    listed = [o.key for o in store.list("callbacks/")]

    assert listed == sorted(k for k in keys if k.startswith("callbacks/"))
    assert len(requests) >= 3 and all(r["MaxKeys"] == 10 for r in requests)
    assert [o.key for o in store.list(limit=15)] == sorted(keys)[:15]
    assert [o.key for o in store.list("callbacks")] == sorted(keys)[:31]
    assert list(store.list("nothing/")) == []


def test_delete_is_idempotent(store: S3ObjectStore) -> None:
    store.put_bytes("x/y", b"1")
    store.delete("x/y")
    store.delete("x/y")
    assert not store.exists("x/y")


# Newlines are left to the local tests: moto's URL routing cannot match "%0A" (real S3 can).
@pytest.mark.parametrize("key", ["it's \"quoted\" and spaced.json", "tab\tand\rcr/é ü.mp4"])
def test_odd_keys_roundtrip_list_and_preview(store: S3ObjectStore, key: str) -> None:
    store.put_bytes(key, b"odd")
    assert store.get_bytes(key) == b"odd"
    assert [o.key for o in store.list()] == [key]
    assert store.key_from_uri(store.uri(key)) == key
    assert httpx.get(store.preview_url(key)).content == b"odd"


def test_presigned_preview_url_serves_the_bytes(store: S3ObjectStore) -> None:
    store.put_bytes("pipelines/p/nodes/n/frame.png", b"\x89PNG fake", content_type="image/png")
    url = store.preview_url("pipelines/p/nodes/n/frame.png", expires_in=60)

    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url and SECRET not in url
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == b"\x89PNG fake"


def test_uri_and_key_from_uri(store: S3ObjectStore) -> None:
    assert store.uri("pipelines/p/out.mp4") == f"s3://{store.bucket}/pipelines/p/out.mp4"
    assert store.key_from_uri(f"s3://{store.bucket}/pipelines/p/out.mp4") == "pipelines/p/out.mp4"
    for foreign in ["s3://another/pipelines/p/out.mp4", f"file:///x/{store.bucket}/k",
                    f"s3://{store.bucket}/../k", f"s3://{store.bucket}"]:
        with pytest.raises(ValueError):
            store.key_from_uri(foreign)
    with pytest.raises(ValueError):
        store.put_bytes("../escape", b"x")


def test_repr_and_fields_hold_no_credentials(store: S3ObjectStore) -> None:
    assert SECRET not in repr(store) and SECRET not in repr(vars(store))


def test_resource_builds_s3_store(endpoint: str) -> None:
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="res")
    resource = ObjectStoreResource(backend="s3", bucket="res", endpoint_url=endpoint,
                                   region_name="us-east-1", max_attempts=2)
    store = resource.get_store()
    assert isinstance(store, S3ObjectStore)
    store.put_bytes("k", b"v")
    assert store.get_bytes("k") == b"v" and store.uri("k") == "s3://res/k"


@pytest.fixture(scope="module")
def subprocess_endpoint() -> Iterator[str]:
    # Out of process, so moto's own buffering of the object is not counted by tracemalloc.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_transfers_of_64_mb_do_not_grow_memory(subprocess_endpoint: str, tmp_path: Path) -> None:
    store = _make_store(subprocess_endpoint)
    digest = _random_file(tmp_path / "big.bin", 64)
    store.put_bytes("warm-up", b"x")  # lazily loaded botocore models are not transfer memory

    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        store.put_file("videos/big.bin", tmp_path / "big.bin")
        store.get_to_file("videos/big.bin", tmp_path / "copy.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(f"transfer peak: {(peak - base) / MB:.1f} MB")
    assert peak - base < 16 * MB, f"peak grew by {(peak - base) / MB:.1f} MB"
    assert hashlib.sha256((tmp_path / "copy.bin").read_bytes()).hexdigest() == digest


def test_presign_is_a_link_made_on_demand(store: S3ObjectStore) -> None:
    store.put_bytes("pipelines/p/nodes/n/out.mp4", b"clip")
    assert httpx.get(store.presign("pipelines/p/nodes/n/out.mp4", expires_in=60)).content == b"clip"


def test_listed_odd_keys_can_be_read_moved_and_deleted(store: S3ObjectStore) -> None:
    odd = ["callbacks//x.json", "callbacks/./y.json", "callbacks/a/../b.json"]
    for key in odd:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=key.encode())
    assert sorted(o.key for o in store.list("callbacks/")) == sorted(odd)
    assert store.get_bytes(odd[2]) == odd[2].encode()
    store.move(odd[0], "quarantine/x.json")
    store.delete(odd[1])
    store.delete(odd[2])
    assert [o.key for o in store.list()] == ["quarantine/x.json"]
    with pytest.raises(ValueError, match="has an empty"):
        store.put_bytes(odd[0], b"writes stay strict")
