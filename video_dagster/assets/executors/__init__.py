"""Executor registry: the type table's executor name → executor instance.

Types whose executor has not landed yet are listed in NOT_YET_EXECUTABLE; they fail with a clear
reason until their module registers them (`register("mix-audio", MixAudioExecutor())`).
"""

from __future__ import annotations

from video_dagster.assets.executors.animation import AnimationExecutor
from video_dagster.assets.executors.asset_node import AssetExecutor
from video_dagster.assets.executors.base import Executor
from video_dagster.assets.executors.lambda_media import MergeVideosExecutor
from video_dagster.assets.executors.media import (
    ComposeVideoExecutor,
    MixAudioExecutor,
    RenderCodeExecutor,
)
from video_dagster.assets.executors.talking_head import TalkingHeadExecutor
from video_dagster.assets.executors.voiceover import VoiceoverExecutor
from video_dagster.domain.nodes import node_type_of

REGISTRY: dict[str, Executor] = {}

NOT_YET_EXECUTABLE: frozenset[str] = frozenset()
"""Executable types whose executor is still to come (none today; a new type lists itself here
until its executor registers)."""


def register(name: str, executor: Executor) -> None:
    """Make `executor` the one for the type table's executor name `name`."""
    REGISTRY[name] = executor


def executor_for(node_type: str) -> Executor | None:
    """The executor of a (possibly legacy-spelled) type, through the type table; None if none."""
    spec = node_type_of(node_type)
    if spec is None or spec.executor is None:
        return None
    return REGISTRY.get(spec.executor)


register("asset", AssetExecutor())
register("merge-videos", MergeVideosExecutor())
register("mix-audio", MixAudioExecutor())
register("compose-video", ComposeVideoExecutor())
register("render-code", RenderCodeExecutor())
register("generate-voiceover", VoiceoverExecutor())
register("generate-talking-head", TalkingHeadExecutor())
register("generate-animation", AnimationExecutor())
