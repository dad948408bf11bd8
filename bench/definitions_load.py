"""Benchmark building the `video` Definitions from a snapshot against plain AssetSpecs.

    python bench/definitions_load.py            # 1,000 and 5,000 nodes, median of 5 runs each
    python bench/definitions_load.py --quick    # smoke variant: 200 nodes, 2 runs

Each run times `PipelineGraphLoader.build_defs()` (with a precomputed snapshot, so no database)
plus resolving the asset graph, as a code server does on load, against a plain
`Definitions(assets=[AssetSpec(key, deps=..., group_name=...)])` of the same shape resolved the
same way. Both sides get the same resources, runs alternate so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from dagster import (  # noqa: E402
    AssetKey,
    AssetSpec,
    Definitions,
    PreviewWarning,
    ResourceDefinition,
)
from dagster._core.definitions.definitions_load_context import (  # noqa: E402
    DefinitionsLoadContext,
    DefinitionsLoadType,
)

from video_dagster.assets.loader import PipelineGraphLoader  # noqa: E402
from video_dagster.assets.translator import REQUIRED_RESOURCE_KEYS  # noqa: E402
from video_dagster.domain.keys import asset_key_path, group_name  # noqa: E402
from video_dagster.domain.snapshot import (  # noqa: E402
    GraphSnapshot,
    NodeSkeleton,
    PipelineSkeleton,
)

TARGET = 1.2
NODES_PER_PIPELINE = 20
# (type, provider, fan-in range): the shape of a real launch video, not a uniform random DAG.
NODE_KINDS = [
    ("asset", None, (0, 0)),
    ("generate-voiceover", "elevenlabs", (0, 1)),
    ("generate-talking-head", "heygen", (1, 2)),
    ("generate-animation", "veo3", (0, 1)),
    ("render-code", "remotion", (0, 1)),
    ("mix-audio", "ffmpeg", (2, 2)),
    ("compose-video", "ffmpeg", (2, 2)),
    ("merge-videos", "ffmpeg", (2, 6)),
]
STUB_RESOURCES = {key: ResourceDefinition.none_resource() for key in REQUIRED_RESOURCE_KEYS}


def make_snapshot(nodes: int, seed: int = 7) -> GraphSnapshot:
    """Deterministic pipelines of 20 nodes; inputs only point at earlier nodes (a DAG)."""
    rng = random.Random(seed)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    pipelines = []
    for index in range(max(1, nodes // NODES_PER_PIPELINE)):
        pipeline_id = new_id()
        ids: list[str] = []
        skeletons = []
        for position in range(NODES_PER_PIPELINE):
            # Sources first, so the assembling nodes later in a pipeline have something to read.
            kinds = NODE_KINDS[:2] if position < 3 else NODE_KINDS
            type_, provider, (low, high) = rng.choice(kinds)
            fan_in = min(len(ids), rng.randint(low, high))
            node_id = new_id()
            skeletons.append(NodeSkeleton(
                id=node_id, pipeline_id=pipeline_id, title=f"{type_} {position}", type=type_,
                provider=provider, input_ids=tuple(rng.sample(ids, fan_in)),
            ))
            ids.append(node_id)
        skeletons.sort(key=lambda n: n.id)
        pipelines.append(PipelineSkeleton(
            id=pipeline_id, title=f"Launch video {index}", nodes=tuple(skeletons)
        ))
    return GraphSnapshot(pipelines=tuple(sorted(pipelines, key=lambda p: p.id)))


def load_via_loader(snapshot: GraphSnapshot) -> Definitions:
    """What a code server does at load: build_defs inside an initialization context, resolve."""
    context = DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION)
    with DefinitionsLoadContext.scoped(context):
        defs = PipelineGraphLoader(fetch_snapshot=lambda: snapshot).build_defs()
        defs = Definitions.merge(defs, Definitions(resources=STUB_RESOURCES))
        defs.resolve_asset_graph()
    return defs


def load_plain_specs(snapshot: GraphSnapshot) -> Definitions:
    """The baseline: external AssetSpecs with the same keys, deps and groups."""
    specs = []
    for pipeline in snapshot.pipelines:
        group = group_name(pipeline.title, pipeline.id)
        for node in pipeline.nodes:
            deps = [AssetKey(asset_key_path(pipeline.id, i)) for i in node.input_ids]
            specs.append(AssetSpec(
                AssetKey(asset_key_path(pipeline.id, node.id)), deps=deps, group_name=group
            ))
    defs = Definitions(assets=specs, resources=STUB_RESOURCES)
    defs.resolve_asset_graph()
    return defs


def _timed(fn: Callable[[GraphSnapshot], Definitions], snapshot: GraphSnapshot) -> float:
    gc.collect()  # start each run from the same heap state
    started = time.perf_counter()
    fn(snapshot)
    return time.perf_counter() - started


def bench(nodes: int, runs: int) -> float:
    """Print medians and the ratio for one size; return the ratio."""
    snapshot = make_snapshot(nodes)
    count = sum(len(p.nodes) for p in snapshot.pipelines)
    load_via_loader(snapshot)  # warm imports and caches outside the timings
    load_plain_specs(snapshot)
    ours, plain = [], []
    for _ in range(runs):
        ours.append(_timed(load_via_loader, snapshot))
        plain.append(_timed(load_plain_specs, snapshot))
    ratio = statistics.median(ours) / statistics.median(plain)
    verdict = "OK" if ratio <= TARGET else "OVER TARGET"
    print(f"{count} nodes: loader {statistics.median(ours):.3f}s, "
          f"plain specs {statistics.median(plain):.3f}s (median of {runs})")
    print(f"{count} nodes ratio {ratio:.2f} (target <= {TARGET}) {verdict}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always exits 0 (it reports, the numbers are read by people)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 nodes, 2 runs (smoke test)")
    parser.add_argument("--runs", type=int, default=5, help="runs per size (median is used)")
    args = parser.parse_args(argv)
    # StateBackedDefinitionsLoader itself calls the preview-flagged with_reconstruction_metadata.
    warnings.filterwarnings("ignore", category=PreviewWarning)
    sizes, runs = ([200], 2) if args.quick else ([1000, 5000], max(5, args.runs))
    for size in sizes:
        bench(size, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
