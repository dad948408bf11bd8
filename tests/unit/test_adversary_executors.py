"""Media executors given input rows of any shape: one clear ExecutionFailed, never a TypeError."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from video_dagster.assets.execute import _result
from video_dagster.assets.executors import media
from video_dagster.assets.executors.asset_node import AssetExecutor
from video_dagster.assets.executors.base import (
    ExecutionContext,
    ExecutionFailed,
    InputNode,
    NodeRow,
)
from video_dagster.assets.executors.media import (
    MAX_SCENE_BYTES,
    MixAudioExecutor,
    RenderCodeConfig,
    RenderCodeExecutor,
    typed,
)
from video_dagster.resources.object_store import LocalObjectStore

P, N, NODE = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
              "44444444-4444-4444-8444-444444444444")
VIDEO, AUDIO = "55555555-5555-4555-8555-555555555555", "66666666-6666-4666-8666-666666666666"


def _ctx(tmp_path: Path, node_type: str, config: Any, slots: dict[str, Any]) -> ExecutionContext:
    node = NodeRow(NODE, P, "node", node_type, {s: i.id for s, i in slots.items()}, config, None,
                   "in_progress", True, {}, None, 1, {})
    return ExecutionContext(node=node, slots={s: [i] for s, i in slots.items()}, process_uuid=N,
                            store=LocalObjectStore(tmp_path, "b"), invoker=None,  # type: ignore[arg-type]
                            lifecycle=None, log=None,  # type: ignore[arg-type]
                            deadline=datetime.now(UTC))


@pytest.mark.parametrize("output", [["a", "b"], "done", 7, True])
def test_an_input_output_that_is_not_an_object(tmp_path: Path, output: Any) -> None:
    LocalObjectStore(tmp_path, "b").put_bytes("library/v.mp4", b"x")
    video = {"type": "video", "s3Key": "library/v.mp4"}
    ctx = _ctx(tmp_path, "mix-audio", {"provider": "ffmpeg"}, {
        "video": InputNode(VIDEO, "v", "asset", "completed", video),
        "audio": InputNode(AUDIO, "a", "asset", "completed", output)})
    with pytest.raises(ExecutionFailed, match=f"Input node {AUDIO} has no output"):
        MixAudioExecutor().build_event(ctx)
    ctx = _ctx(tmp_path, "render-code", {"provider": "native"},
               {"config": InputNode(AUDIO, "scene", "asset", "completed", output)})
    with pytest.raises(ExecutionFailed, match="must be a json asset"):
        RenderCodeExecutor().build_event(ctx)


@pytest.mark.parametrize("output", [["a"], "done", 3, None, {"type": ["video"], "size": "big"}])
def test_a_completed_node_with_any_output_json_still_reports(tmp_path: Path, output: Any) -> None:
    # The "already completed" path hands the stored column to _result as it is.
    result = _result(NODE, None, output, LocalObjectStore(tmp_path, "b"), note="already completed")
    assert result.metadata is not None
    assert result.metadata["node_id"] == NODE and result.metadata["type"] == "unknown"


@pytest.mark.parametrize("value", ["inf", "-Infinity", "NaN"])
def test_a_non_finite_number_in_text_is_refused_before_the_event(value: str) -> None:
    with pytest.raises(ExecutionFailed, match=r"config\.typing") as info:
        typed(RenderCodeConfig, {"typing": value})
    assert info.value.error_type == "InvalidConfig"


def test_a_scene_asset_over_1_mb_is_refused_before_the_function_downloads_it(
        tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, "b")
    store.put_bytes("library/scene.json", b" " * (MAX_SCENE_BYTES + 1))
    scene = InputNode(AUDIO, "scene", "asset", "completed",
                      {"type": "text", "s3Key": "library/scene.json"})
    ctx = _ctx(tmp_path, "render-code", {"provider": "native"}, {"config": scene})
    with pytest.raises(ExecutionFailed, match="a code scene is at most 1048576"):
        RenderCodeExecutor().build_event(ctx)
    store.put_bytes("library/scene.json", b'{"code": "x"}')
    assert RenderCodeExecutor().build_event(ctx)["scene_uri"] == store.uri("library/scene.json")


def test_an_aws_failure_record_is_neither_an_asset_source_nor_an_input(tmp_path: Path) -> None:
    # It holds another node's whole event (inputs, config); it is ours, not media.
    record = "aws/lambda/async/vd-video-merger/2026/12/01/2026-12-01T14.16.05-x"
    LocalObjectStore(tmp_path, "b").put_bytes(record, b"{}")
    node = NodeRow(NODE, P, "a", "asset", {}, {}, {"s3Key": record}, "in_progress", True, {},
                   None, 1, {})
    ctx = _ctx(tmp_path, "asset", {}, {})
    with pytest.raises(ExecutionFailed, match="is not a media object"):
        AssetExecutor().run(ExecutionContext(**{**ctx.__dict__, "node": node}))
    ctx = _ctx(tmp_path, "render-code", {"provider": "native"}, {"config": InputNode(
        AUDIO, "a", "asset", "completed", {"type": "text", "s3Key": record})})
    with pytest.raises(ExecutionFailed, match="may read from"):
        media.inputs.input_uri(ctx, AUDIO, ())  # imported through media: import cycle
