"""merge-videos end to end: asset nodes → video_merger Lambda (local mode) → callback."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import AssetKey

from tests.conftest import use_fake_aws
from tests.e2e.conftest import graph_defs
from video_dagster.assets.executors.lambda_media import MergeVideosExecutor
from video_dagster.cli import EXAMPLES_DIR
from video_dagster.cli.demo import make_clips, probe_duration
from video_dagster.db import editing, transfer
from video_dagster.domain.keys import asset_key_path, node_id_of_key
from video_dagster.resources.lambda_invoker import LambdaInvokerResource


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    return make_clips(tmp_path_factory.mktemp("clips"), seconds=1.0)


def _upload(store, clips):
    for key, path in clips.items():
        store.put_file(key, path)


def _import(engine, doc):
    with engine.begin() as conn:
        return transfer.import_pipeline(conn, doc)


def _nodes(engine, pid):
    with engine.connect() as conn:
        return {n.title: n for n in editing.list_nodes(conn, pid)}


def _run_all(engine, resources, instance, pid):
    keys = [AssetKey(asset_key_path(pid, n.id, n.type)) for n in _nodes(engine, pid).values()]
    job = graph_defs(engine, resources).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(asset_selection=keys, instance=instance, raise_on_error=False)


def _merge_doc(segments):
    nodes = [{"id": k, "title": k, "type": "asset", "asset": a} for k, a in segments.items()]
    nodes.append({"id": "m", "title": "Merged", "type": "merge-videos",
                  "inputs": {"segments": list(segments)}, "config": {"provider": "ffmpeg"}})
    return {"title": "merge test", "nodes": nodes}


def test_example_merges_clips_in_order(engine, resources, instance, store, clips, tmp_path):
    _upload(store, clips)
    pid = _import(engine, json.loads((EXAMPLES_DIR / "merge_clips.json").read_text()))
    result = _run_all(engine, resources, instance, pid)
    merged = _nodes(engine, pid)["Merged reel"]
    assert result.success, merged.metadata
    assert merged.status == "completed"
    assert merged.output["s3Key"] == f"pipelines/{pid}/nodes/{merged.id}/output.mp4"
    assert merged.output["type"] == "video" and merged.output["size"] > 0
    assert merged.output["duration"] == pytest.approx(3.0, abs=0.3)
    local = tmp_path / "out.mp4"
    store.get_to_file(merged.output["s3Key"], local)
    assert probe_duration(local) == pytest.approx(3.0, abs=0.3)
    assert list(store.list("callbacks/")) == []  # consumed and deleted
    mats = [e.event_specific_data.materialization
            for e in result.get_asset_materialization_events()]
    merged_meta = next(m.metadata for m in mats if node_id_of_key(m.asset_key.path) == merged.id)
    assert merged_meta["duration_seconds"].value == pytest.approx(3.0, abs=0.3)


def test_non_video_segment_fails_with_reason(engine, resources, instance, store, clips):
    _upload(store, clips)
    pid = _import(engine, _merge_doc({
        "a": {"type": "video", "s3Key": "library/demo/clip_a.mp4"},
        "t": {"type": "text", "content": "not a video"},
    }))
    result = _run_all(engine, resources, instance, pid)
    assert not result.success
    merged, text = _nodes(engine, pid)["Merged"], _nodes(engine, pid)["t"]
    assert merged.status == "failed"
    assert merged.metadata["error"] == f"Input node {text.id} produced text, expected video"


def test_corrupted_input_fails_through_the_callback(engine, resources, instance, store, clips):
    _upload(store, clips)
    store.put_bytes("library/broken.mp4", bytes(range(256)) * 32)
    pid = _import(engine, _merge_doc({
        "a": {"type": "video", "s3Key": "library/demo/clip_a.mp4"},
        "b": {"type": "video", "s3Key": "library/broken.mp4"},
    }))
    result = _run_all(engine, resources, instance, pid)
    assert not result.success
    merged = _nodes(engine, pid)["Merged"]
    assert merged.status == "failed"
    assert merged.metadata["error_type"] in ("FFmpegError", "InvalidInput")
    assert "input 1" in merged.metadata["error"].lower() or "broken" in merged.metadata["error"]


def _merge_with_runner(engine, resources, instance, store, clips, tmp_path, runner):
    _upload(store, clips)
    resources = {**resources, "lambda_invoker": LambdaInvokerResource(
        mode="local", log_dir=str(tmp_path / "runner"), local_runner_module=runner)}
    pid = _import(engine, _merge_doc({
        "a": {"type": "video", "s3Key": "library/demo/clip_a.mp4"},
        "b": {"type": "video", "s3Key": "library/demo/clip_b.mp4"},
    }))
    started = time.monotonic()
    result = _run_all(engine, resources, instance, pid)
    assert not result.success
    return _nodes(engine, pid)["Merged"], time.monotonic() - started


def test_a_crashed_lambda_fails_its_node_in_seconds_with_its_exit_status(
    engine, resources, instance, store, clips, tmp_path, monkeypatch
):
    # Issue 7.8: before, the node waited for its deadline (20 min; 60 s here) and said "timed out".
    monkeypatch.setattr(MergeVideosExecutor, "timeout", timedelta(seconds=60))
    merged, elapsed = _merge_with_runner(engine, resources, instance, store, clips, tmp_path,
                                         "tests.e2e._dying_runner")
    assert merged.status == "failed" and merged.metadata["error_type"] == "LambdaCrashed"
    assert "exited with status 137 without calling back" in merged.metadata["error"]
    assert elapsed < 30


def test_lambda_that_never_calls_back_fails_at_its_deadline(
    engine, resources, instance, store, clips, tmp_path, monkeypatch
):
    monkeypatch.setattr(MergeVideosExecutor, "timeout", timedelta(seconds=3))
    merged, _ = _merge_with_runner(engine, resources, instance, store, clips, tmp_path,
                                   "tests.e2e._silent_runner")
    assert merged.status == "failed" and merged.metadata["error_type"] == "Timeout"
    assert "timed out" in merged.metadata["error"]


@pytest.fixture
def moto_s3(moto_endpoint, monkeypatch, tmp_path):
    """moto's S3 server with the bucket the pipeline writes to, and fake credentials."""
    import boto3

    use_fake_aws(monkeypatch, tmp_path, "testing")
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    if "video-dagster" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="video-dagster")
    return moto_endpoint


def test_merge_through_s3(engine, resources, instance, clips, moto_s3, tmp_path):
    from video_dagster.resources.object_store import ObjectStoreResource

    s3 = ObjectStoreResource(backend="s3", bucket="video-dagster", endpoint_url=moto_s3,
                             region_name="us-east-1")
    store = s3.get_store()
    _upload(store, clips)
    pid = _import(engine, _merge_doc({
        "a": {"type": "video", "s3Key": "library/demo/clip_a.mp4"},
        "c": {"type": "video", "uri": "s3://video-dagster/library/demo/clip_c.mp4"},
    }))
    result = _run_all(engine, {**resources, "object_store": s3}, instance, pid)
    merged = _nodes(engine, pid)["Merged"]
    assert result.success, merged.metadata
    assert merged.output["uri"] == f"s3://video-dagster/{merged.output['s3Key']}"
    local = tmp_path / "s3-out.mp4"
    store.get_to_file(merged.output["s3Key"], local)
    assert probe_duration(local) == pytest.approx(2.0, abs=0.3)
    assert list(store.list("callbacks/")) == []
