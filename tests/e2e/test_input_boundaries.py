"""No file outside the store reaches FFmpeg: inputs resolve only to objects of our store."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import AssetKey

from tests.e2e.conftest import graph_defs
from video_dagster.assets import inputs
from video_dagster.assets.executors.base import (
    ExecutionContext,
    ExecutionFailed,
    InputNode,
    NodeRow,
)
from video_dagster.cli.demo import make_clips
from video_dagster.db import editing, transfer
from video_dagster.domain.keys import asset_key_path, node_output_key

P, N, SRC, MERGE = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
                    "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    return make_clips(tmp_path_factory.mktemp("clips"), seconds=1.0)


def _ctx(store, source_type: str, output) -> ExecutionContext:
    node = NodeRow(MERGE, P, "merge", "merge-videos", {"segments": [SRC]}, {}, None,
                   "in_progress", True, {}, None, 1, {})
    src = InputNode(SRC, "source", source_type, "completed", output)
    return ExecutionContext(node=node, slots={"segments": [src]}, process_uuid=N, store=store,
                            invoker=None, lifecycle=None, log=None,  # type: ignore[arg-type]
                            deadline=datetime.now(UTC))


CASES = {
    "file uri, s3Key not a string": ({"s3Key": 5, "uri": "file:///etc/passwd"},
                                     "s3Key is not a string"),
    "file uri, empty s3Key": ({"s3Key": "", "uri": "file:///etc/passwd"},
                              "is not an object of this store"),
    "other bucket": ({"uri": "s3://other-bucket/k.mp4"}, "is not an object of this store"),
    "path traversal": ({"s3Key": "../../../../etc/passwd"}, "not a valid object key"),
    "absolute": ({"s3Key": "/etc/passwd"}, "not a valid object key"),
    "over-long name": ({"s3Key": "library/" + "x" * 300 + ".mp4"}, "longer than 255 bytes"),
    "internal prefix": ({"s3Key": f"callbacks/{SRC}/{N}.json"}, "may read from"),
    "missing": ({"s3Key": "library/none.mp4"}, "does not exist"),
}


@pytest.mark.parametrize("output, reason", CASES.values(), ids=CASES.keys())
def test_an_input_outside_the_store_is_refused(store, output, reason):
    with pytest.raises(ExecutionFailed, match=reason) as info:
        inputs.input_uri(_ctx(store, "asset", {"type": "video", **output}), SRC, ("video",))
    assert "Errno" not in str(info.value)


def test_a_generated_input_must_be_under_its_own_node(store):
    store.put_bytes("library/clip.mp4", b"x")
    with pytest.raises(ExecutionFailed, match="may read from"):
        inputs.input_uri(_ctx(store, "generate-animation",
                              {"type": "video", "s3Key": "library/clip.mp4"}), SRC, ("video",))
    own = node_output_key(P, SRC, "out.mp4")
    store.put_bytes(own, b"x")
    ctx = _ctx(store, "generate-animation", {"type": "video", "s3Key": own})
    assert inputs.input_uri(ctx, SRC, ("video",)) == store.uri(own)


def test_input_text_reads_inline_or_stored_text_capped(store):
    key = node_output_key(P, SRC, "content.txt")
    store.put_bytes(key, "Bonjour à tous".encode())
    ctx = _ctx(store, "asset", {"type": "text", "s3Key": key})
    assert inputs.input_text(ctx, SRC) == "Bonjour à tous"
    with pytest.raises(ExecutionFailed, match="larger than 5 bytes"):
        inputs.input_text(ctx, SRC, max_bytes=5)
    assert inputs.input_text(_ctx(store, "asset", {"type": "text", "content": "hi"}), SRC) == "hi"
    with pytest.raises(ExecutionFailed, match="not an object of this store"):
        inputs.input_text(_ctx(store, "asset", {"type": "text", "uri": "file:///etc/passwd"}), SRC)
    store.put_bytes(key, b"\xff\xfe")
    with pytest.raises(ExecutionFailed, match="not valid UTF-8"):
        inputs.input_text(ctx, SRC)


@pytest.mark.parametrize("hostile, reason", [
    (lambda outside: {"type": "video", "s3Key": 5, "uri": f"file://{outside}"},
     "s3Key is not a string"),
    (lambda outside: {"type": "video", "s3Key": "library/" + "y" * 300 + ".mp4"},
     "longer than 255 bytes"),
], ids=["file elsewhere on the machine", "over-long name"])
def test_merge_never_reads_a_file_outside_the_store(engine, resources, instance, store, clips,
                                                    tmp_path, hostile, reason):
    for key, path in clips.items():
        store.put_file(key, path)
    outside = tmp_path / "elsewhere" / "private.mp4"
    outside.parent.mkdir()
    shutil.copy(clips["library/demo/clip_b.mp4"], outside)
    doc = {"title": "boundary", "nodes": [
        {"id": "a", "title": "a", "type": "asset",
         "asset": {"type": "video", "s3Key": "library/demo/clip_a.mp4"}},
        {"id": "b", "title": "b", "type": "asset",
         "asset": {"type": "video", "s3Key": "library/demo/clip_b.mp4"}},
        {"id": "m", "title": "Merged", "type": "merge-videos", "inputs": {"segments": ["a", "b"]},
         "config": {"provider": "ffmpeg"}}]}
    with engine.begin() as conn:
        pid = transfer.import_pipeline(conn, doc)
        nodes = {n.title: n for n in editing.list_nodes(conn, pid)}
    job = graph_defs(engine, resources).resolve_implicit_global_asset_job_def()
    sources = [AssetKey(asset_key_path(pid, nodes[t].id, nodes[t].type)) for t in ("a", "b")]
    assert job.execute_in_process(asset_selection=sources, instance=instance).success
    with engine.begin() as conn:  # an output row naming something else, however it got there
        conn.execute(sa.text("UPDATE video_production_nodes SET output = CAST(:o AS jsonb) "
                             "WHERE id = CAST(:id AS uuid)"),
                     {"o": json.dumps(hostile(outside)), "id": nodes["b"].id})
    merge_key = AssetKey(asset_key_path(pid, nodes["Merged"].id, nodes["Merged"].type))
    result = job.execute_in_process(asset_selection=[merge_key], instance=instance,
                                    raise_on_error=False)
    assert not result.success
    with engine.connect() as conn:
        merged = {n.title: n for n in editing.list_nodes(conn, pid)}["Merged"]
    assert merged.status == "failed" and merged.output is None
    assert reason in merged.metadata["error"] and "Errno" not in merged.metadata["error"]
    assert list(store.list(f"pipelines/{pid}/nodes/{merged.id}/")) == []
    assert list(store.list("callbacks/")) == []


def test_an_asset_node_cannot_source_our_internal_objects(store):
    from video_dagster.assets.executors.asset_node import AssetExecutor

    store.put_bytes(f"callbacks/{SRC}/{N}.json", b"{}")
    ctx = _ctx(store, "asset", None)
    ctx = ExecutionContext(**{**ctx.__dict__, "node": NodeRow(
        SRC, P, "src", "asset", {}, {}, {"s3Key": f"callbacks/{SRC}/{N}.json"}, "in_progress",
        True, {}, None, 1, {})})
    with pytest.raises(ExecutionFailed, match="is not a media object"):
        AssetExecutor().run(ctx)
