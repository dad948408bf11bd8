"""A fixed two-pipeline snapshot and a JSON rendering of the asset graph Dagster resolves."""

from __future__ import annotations

from typing import Any

from dagster import Definitions, ResourceDefinition

from video_dagster.assets.translator import REQUIRED_RESOURCE_KEYS
from video_dagster.domain.snapshot import GraphSnapshot, NodeSkeleton, PipelineSkeleton

LAUNCH = "0b7e6a52-3c1f-4c8e-9d3e-1f2a3b4c5d6e"
TUTORIAL = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
KIND = "dagster/kind/"
DANGLING = "deadbeef-0000-4000-8000-000000000000"


def node_id(pipeline: str, suffix: str) -> str:
    """The fixed id of node `suffix` ("01".."08") of a fixture pipeline."""
    return f"{pipeline[:8]}-0000-4000-8000-0000000000{suffix}"


def _node(pipeline: str, suffix: str, title: str, type_: str, provider: str | None,
          *inputs: str) -> NodeSkeleton:
    return NodeSkeleton(
        id=node_id(pipeline, suffix), pipeline_id=pipeline, title=title, type=type_,
        provider=provider, input_ids=tuple(inputs),
    )


def example_snapshot() -> GraphSnapshot:
    """Launch video (every type, a dangling input) and a tutorial (legacy type, odd data)."""
    L, T, n = LAUNCH, TUTORIAL, node_id
    launch = (
        _node(L, "01", "Script", "asset", None),
        _node(L, "02", "Voiceover", "generate-voiceover", "elevenlabs", n(L, "01")),
        _node(L, "03", "Presenter", "generate-talking-head", "heygen", n(L, "02")),
        _node(L, "04", "Intro animation", "generate-animation", "veo3"),
        _node(L, "05", "Code screen", "render-code", "remotion"),
        _node(L, "06", "Segments", "merge-videos", "ffmpeg",
              n(L, "04"), n(L, "03"), n(L, "05")),
        _node(L, "07", "Picture in picture", "compose-video", "ffmpeg", n(L, "06"), n(L, "03")),
        # The dangling id (a node deleted in the editor) must not become a dep.
        _node(L, "08", "Final mix", "mix-audio", "ffmpeg", n(L, "07"), DANGLING),
    )
    tutorial = (
        _node(T, "01", "Narration", "generate-voiceover", "elevenlabs"),
        _node(T, "02", "Host (legacy type)", "talking-head", "heygen", n(T, "01")),
        # A self-reference and a two-node cycle: invalid nodes, but the graph must still load.
        _node(T, "03", "Loop A", "merge-videos", "ffmpeg", n(T, "04"), n(T, "03"), n(T, "02")),
        _node(T, "04", "Loop B", "merge-videos", "ffmpeg", n(T, "03")),
        _node(T, "05", "Upscale", "upscale-video", "Topaz Labs/v2", n(T, "02")),
        _node(T, "06", "No provider yet", "compose-video", None, n(L, "06")),
    )
    return GraphSnapshot(pipelines=(
        PipelineSkeleton(id=L, title="Product Launch — Episode #1", nodes=launch),
        PipelineSkeleton(id=T, title="Tutorial: Getting started", nodes=tutorial),
    ))


def with_stub_resources(defs: Definitions) -> Definitions:
    """Merge in placeholder resources, as definitions.py merges the real ones."""
    stubs = {key: ResourceDefinition.none_resource() for key in REQUIRED_RESOURCE_KEYS}
    return Definitions.merge(defs, Definitions(resources=stubs))


def render_graph(defs: Definitions) -> dict[str, Any]:
    """Keys, deps, groups, pools, kinds, tags and checks of the resolved graph, sorted."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for node in graph.asset_nodes:
        assets[node.key.to_user_string()] = {
            "deps": sorted(key.to_user_string() for key in node.parent_keys),
            "description": node.description,
            "group": node.group_name,
            "pools": sorted(node.pools or ()),
            "kinds": sorted(k.removeprefix(KIND) for k in node.tags if k.startswith(KIND)),
            "tags": {k: v for k, v in sorted(node.tags.items()) if k.startswith("video/")},
            "metadata": {k: str(getattr(v, "value", v)) for k, v in sorted(node.metadata.items())},
            "checks": sorted(k.name for k in node.check_keys),
        }
    return {"assets": dict(sorted(assets.items()))}
