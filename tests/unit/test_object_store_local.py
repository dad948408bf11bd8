"""LocalObjectStore: the folder backend used when no S3 is configured."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from video_dagster.resources import object_store as object_store_module
from video_dagster.resources.object_store import (
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStoreError,
    ObjectStoreResource,
)

ODD_KEYS = ["it's \"quoted\" and spaced.json", "line\nbreak/é ü.mp4", "a b/c'd\"e"]


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects", "media")


def _tmp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".vd-tmp-")]


def test_put_bytes_roundtrip_and_metadata(store: LocalObjectStore, tmp_path: Path) -> None:
    store.put_bytes("pipelines/p/nodes/n/out.json", b'{"ok": 1}', content_type="application/json")

    assert store.get_bytes("pipelines/p/nodes/n/out.json") == b'{"ok": 1}'
    assert (tmp_path / "objects/media/pipelines/p/nodes/n/out.json").read_bytes() == b'{"ok": 1}'
    info = store.stat("pipelines/p/nodes/n/out.json")
    assert info is not None and info.key == "pipelines/p/nodes/n/out.json" and info.size == 9
    assert info.last_modified.tzinfo is not None
    assert store.exists("pipelines/p/nodes/n/out.json")


def test_overwrite_changes_etag(store: LocalObjectStore) -> None:
    store.put_bytes("k", b"one")
    first = store.stat("k")
    os.utime(store.path("k"), ns=(1, 1))  # mtime resolution must not hide a rewrite
    store.put_bytes("k", b"second")
    second = store.stat("k")
    assert first and second and first.etag != second.etag and second.size == 6


def test_missing_key(store: LocalObjectStore) -> None:
    assert store.stat("nope") is None
    assert not store.exists("nope")
    with pytest.raises(ObjectNotFoundError) as err:
        store.get_bytes("nope")
    assert err.value.code == "NoSuchKey" and err.value.key == "nope"
    with pytest.raises(ObjectNotFoundError):
        store.get_to_file("nope", store.root / "dest")


def test_folder_is_not_an_object(store: LocalObjectStore) -> None:
    store.put_bytes("dir/child", b"x")
    assert store.stat("dir") is None
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("dir")


def test_put_file_and_streaming_get_of_multi_megabyte_file(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(12):
            out.write(os.urandom(1024 * 1024))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    store.put_file("videos/big.bin", source, content_type="video/mp4")
    dest = tmp_path / "copy.bin"
    store.get_to_file("videos/big.bin", dest)

    assert hashlib.sha256(dest.read_bytes()).hexdigest() == digest
    with store.open_read("videos/big.bin") as stream:
        hasher, chunks = hashlib.sha256(), 0
        while chunk := stream.read(1024 * 1024):
            hasher.update(chunk)
            chunks += 1
    assert hasher.hexdigest() == digest and chunks == 12
    assert store.stat("videos/big.bin").size == 12 * 1024 * 1024  # type: ignore[union-attr]
    assert _tmp_files(tmp_path) == []


def test_failed_write_keeps_previous_object_and_leaves_no_temp(
    store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_bytes("k.bin", b"old")
    source = tmp_path / "src.bin"
    source.write_bytes(b"new" * 1000)

    def copy_half_then_fail(src, dst, length=0):  # type: ignore[no-untyped-def]
        dst.write(src.read(10))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(object_store_module.shutil, "copyfileobj", copy_half_then_fail)
    with pytest.raises(ObjectStoreError) as err:
        store.put_file("k.bin", source)

    assert err.value.key == "k.bin" and "No space left" in str(err.value)
    assert store.get_bytes("k.bin") == b"old"
    assert _tmp_files(tmp_path) == []


def test_reader_never_sees_a_partial_object(store: LocalObjectStore) -> None:
    size = 2 * 1024 * 1024
    bodies = [b"A" * size, b"B" * size]
    store.put_bytes("hot.bin", bodies[0])
    stop, seen = threading.Event(), []

    def reader() -> None:
        while not stop.is_set():
            seen.append(store.get_bytes("hot.bin"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(20):
            store.put_bytes("hot.bin", bodies[i % 2])
    finally:
        stop.set()
        thread.join()
    assert seen and all(body in bodies for body in seen)


def test_list_is_in_key_order_with_prefix_and_limit(store: LocalObjectStore) -> None:
    # "-" < "/" < "0": a folder's keys sort between its siblings, as on S3.
    keys = ["a/c", "a-b", "a0", "a/b/c", "b", "a/b/d", "callbacks/n1/p.json", "a/bb"]
    for key in keys:
        store.put_bytes(key, key.encode())
    # An in-flight write of another process must not be listed.
    (store.base / "a" / ".vd-tmp-half").write_bytes(b"partial")

    assert [o.key for o in store.list()] == sorted(keys)
    assert [o.key for o in store.list("a/")] == ["a/b/c", "a/b/d", "a/bb", "a/c"]
    assert [o.key for o in store.list("a/b")] == ["a/b/c", "a/b/d", "a/bb"]
    assert [o.key for o in store.list("a")] == ["a-b", "a/b/c", "a/b/d", "a/bb", "a/c", "a0"]
    assert [o.key for o in store.list("", limit=3)] == sorted(keys)[:3]
    assert [o.size for o in store.list("callbacks/")] == [len("callbacks/n1/p.json")]
    assert list(store.list("zzz/")) == []
    assert list(LocalObjectStore(store.root, "empty").list()) == []


def test_list_rejects_escaping_prefix(store: LocalObjectStore) -> None:
    with pytest.raises(ValueError):
        list(store.list("../"))


def test_delete_is_idempotent(store: LocalObjectStore) -> None:
    store.put_bytes("x/y", b"1")
    store.delete("x/y")
    store.delete("x/y")
    store.delete("never/existed")
    assert not store.exists("x/y")
    assert list(store.list()) == []


@pytest.mark.parametrize("key", ODD_KEYS)
def test_keys_with_quotes_spaces_and_newlines(store: LocalObjectStore, key: str) -> None:
    store.put_bytes(key, b"odd")
    assert store.get_bytes(key) == b"odd"
    assert [o.key for o in store.list()] == [key]
    assert store.key_from_uri(store.uri(key)) == key
    store.delete(key)
    assert not store.exists(key)


@pytest.mark.parametrize(
    "key",
    ["", "../escape", "a/../../escape", "a/..", "/etc/passwd", "nul\x00byte", "a//b", "./a",
     "a/", ".vd-tmp-x"],
)
def test_unsafe_keys_are_rejected(store: LocalObjectStore, key: str) -> None:
    for call in (lambda: store.put_bytes(key, b"x"), lambda: store.get_bytes(key),
                 lambda: store.stat(key), lambda: store.delete(key), lambda: store.uri(key)):
        with pytest.raises(ValueError):
            call()
    assert not (store.root.parent / "escape").exists()


def test_uri_and_key_from_uri(store: LocalObjectStore, tmp_path: Path) -> None:
    uri = store.uri("pipelines/p/nodes/n/out.mp4")
    assert uri == f"file://{tmp_path}/objects/media/pipelines/p/nodes/n/out.mp4"
    assert store.key_from_uri(uri) == "pipelines/p/nodes/n/out.mp4"
    assert store.preview_url("pipelines/p/nodes/n/out.mp4") == uri

    for foreign in [
        "s3://media/pipelines/p/out.mp4",
        f"file://{tmp_path}/objects/other/out.mp4",
        f"file://{tmp_path}/elsewhere/media/out.mp4",
        f"file://{tmp_path}/objects/media/../media/x",
        f"file://{tmp_path}/objects/media/",
    ]:
        with pytest.raises(ValueError, match=r"URI|segment|non-empty"):
            store.key_from_uri(foreign)


def test_resource_builds_local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resource = ObjectStoreResource(backend="local", bucket="b", local_root=str(tmp_path))
    explicit = resource.get_store()
    assert isinstance(explicit, LocalObjectStore) and explicit.base == tmp_path / "b"

    monkeypatch.setenv("VIDEO_DAGSTER_HOME", str(tmp_path / "home"))
    default = ObjectStoreResource(bucket="b").get_store()
    assert default.uri("k") == f"file://{tmp_path}/home/objects/b/k"


def test_resource_is_usable_by_an_asset(tmp_path: Path) -> None:
    from dagster import asset, materialize

    @asset
    def stored(object_store: ObjectStoreResource) -> str:
        store = object_store.get_store()
        store.put_bytes("from-asset.txt", b"hi")
        return store.uri("from-asset.txt")

    resource = ObjectStoreResource(backend="local", bucket="b", local_root=str(tmp_path))
    result = materialize([stored], resources={"object_store": resource})
    assert result.success
    assert (tmp_path / "b/from-asset.txt").read_bytes() == b"hi"


@pytest.mark.parametrize("key, reason", [
    ("library/" + "x" * 300 + ".mp4", "longer than 255 bytes"),
    ("a/" * 600 + "b", "longer than 1024 bytes"),
    ("bad\ud800.mp4", "not valid Unicode"),
])
def test_unusable_keys_are_a_clear_value_error_not_an_os_error(
        store: LocalObjectStore, key: str, reason: str) -> None:
    for call in (store.stat, store.exists, store.get_bytes, store.uri):
        with pytest.raises(ValueError, match=reason):
            call(key)


def test_move_renames_and_reports_a_missing_source(store: LocalObjectStore) -> None:
    store.put_bytes("callbacks/n/p.json", b"{}")
    store.move("callbacks/n/p.json", "quarantine/callbacks/n/p.json")
    assert store.get_bytes("quarantine/callbacks/n/p.json") == b"{}"
    assert not store.exists("callbacks/n/p.json")
    with pytest.raises(ObjectNotFoundError):
        store.move("callbacks/n/p.json", "quarantine/again.json")
