"""Executor registry: node type → executor. Types without one fail with a clear reason."""

from __future__ import annotations

from video_dagster.assets.executors.asset_node import AssetExecutor
from video_dagster.assets.executors.base import Executor
from video_dagster.assets.executors.lambda_media import MergeVideosExecutor
from video_dagster.assets.executors.media import (
    ComposeVideoExecutor,
    MixAudioExecutor,
    RenderCodeExecutor,
)
from video_dagster.domain.nodes import canonical_type

REGISTRY: dict[str, Executor] = {
    "asset": AssetExecutor(),
    "merge-videos": MergeVideosExecutor(),
    "mix-audio": MixAudioExecutor(),
    "compose-video": ComposeVideoExecutor(),
    "render-code": RenderCodeExecutor(),
}


def executor_for(node_type: str) -> Executor | None:
    """The executor of a (possibly legacy-spelled) type, if one exists."""
    return REGISTRY.get(canonical_type(node_type))
