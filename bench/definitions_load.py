"""Benchmark building the `video` Definitions from a snapshot against plain AssetSpecs.

    python bench/definitions_load.py            # 1,000 and 5,000 nodes, median of 5 runs each
    python bench/definitions_load.py --quick    # smoke variant: 200 nodes, 2 runs
    python bench/definitions_load.py --options  # also time the architectures that were rejected
    python bench/definitions_load.py --large    # 10,000 and 20,000 nodes (issue 12.4), 3 runs

Each run times `PipelineGraphLoader.build_defs()` (with a precomputed snapshot, so no database)
plus resolving the asset graph, as a code server does on load, against two graphs of the same
shape resolved the same way:

- plain specs: `Definitions(assets=[AssetSpec(key, deps=..., group_name=...)])`, the issue's
  baseline. They are external assets (nothing can materialize them), so this ratio includes
  Dagster's fixed cost of an executable asset, which DESIGN §6 (one asset, one op, one step per
  node) pays per node whatever the translation does.
- minimal executable: that floor on its own, one bare executable asset per node (key, deps, group,
  the required resource keys; no tags, kinds, pools, metadata, descriptions, snapshot JSON or
  state-backed loader), built with the same cheap construction as the translator. The loader's
  ratio to it is the cost of the translation itself.

- loader, default GC: the same loader with the cyclic garbage collector left as Python sets it
  (the loader pauses it during the build and freezes the result, see assets/loader.py).

All sides get the same resources, runs alternate so machine noise hits them alike. Peak RSS is
measured in a fresh child process per size (one load, `ru_maxrss`), against the same child's
RSS before the load.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import random
import resource
import statistics
import subprocess
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
    AssetDep,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    DependencyDefinition,
    GraphDefinition,
    MaterializeResult,
    NodeInvocation,
    Nothing,
    OpDefinition,
    Out,
    OutputMapping,
    PreviewWarning,
    ResourceDefinition,
    multi_asset,
)
from dagster._core.definitions.definitions_load_context import (  # noqa: E402
    DefinitionsLoadContext,
    DefinitionsLoadType,
    StateBackedDefinitionsLoader,
)
from dagster._core.definitions.input import InputDefinition  # noqa: E402
from dagster_shared.record import replace  # noqa: E402

from video_dagster.assets.loader import PipelineGraphLoader  # noqa: E402
from video_dagster.assets.translator import REQUIRED_RESOURCE_KEYS  # noqa: E402
from video_dagster.domain.keys import asset_key_path, group_name  # noqa: E402
from video_dagster.domain.snapshot import (  # noqa: E402
    GraphSnapshot,
    NodeSkeleton,
    PipelineSkeleton,
)

TARGET = 1.2
SECONDS_TARGET = {10_000: 5.0, 20_000: 10.0}  # issue 12.4, on this machine
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


def load_default_gc(snapshot: GraphSnapshot) -> Definitions:
    """The loader without its garbage-collector handling (Dagster's build_defs as it is)."""
    context = DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION)
    with DefinitionsLoadContext.scoped(context):
        loader = PipelineGraphLoader(fetch_snapshot=lambda: snapshot)
        defs = StateBackedDefinitionsLoader.build_defs(loader)
        defs = Definitions.merge(defs, Definitions(resources=STUB_RESOURCES))
        defs.resolve_asset_graph()
    return defs


def load_plain_specs(snapshot: GraphSnapshot) -> Definitions:
    """The baseline: external AssetSpecs with the same keys, deps and groups."""
    specs = []
    for pipeline in snapshot.pipelines:
        group = group_name(pipeline.title, pipeline.id)
        keys = {n.id: AssetKey(asset_key_path(pipeline.id, n.id, n.type)) for n in pipeline.nodes}
        for node in pipeline.nodes:
            deps = [keys[i] for i in node.input_ids]
            specs.append(AssetSpec(keys[node.id], deps=deps, group_name=group))
    defs = Definitions(assets=specs, resources=STUB_RESOURCES)
    defs.resolve_asset_graph()
    return defs


def _bare_compute(context, _inputs):
    yield MaterializeResult()


# The same shortcuts as the translator, so the floor is not slower than necessary and the
# loader/floor ratio is an upper bound on the translation's own cost.
_bare_compute.__signature__ = inspect.signature(_bare_compute)  # type: ignore[attr-defined]
_NOTHING_INS = [InputDefinition(f"in_{index}", Nothing) for index in range(NODES_PER_PIPELINE)]
_NOTHING_OUTS = {"result": Out(Nothing)}


def _bare_specs(pipeline: PipelineSkeleton) -> list[AssetSpec]:
    """`AssetSpec(key, deps=..., group_name=...)` per node, derived from one validated spec."""
    keys = {n.id: AssetKey(asset_key_path(pipeline.id, n.id, n.type)) for n in pipeline.nodes}
    deps = {i: AssetDep(keys[i]) for node in pipeline.nodes for i in node.input_ids}
    if not keys:
        return []
    group = group_name(pipeline.title, pipeline.id)
    template = AssetSpec(next(iter(keys.values())), group_name=group)
    return [
        replace(template, key=keys[node.id], deps=[deps[i] for i in node.input_ids])
        for node in pipeline.nodes
    ]


def _resolve(assets: list) -> Definitions:
    defs = Definitions(assets=assets, resources=STUB_RESOURCES)
    defs.resolve_asset_graph()
    return defs


def load_minimal_executable(snapshot: GraphSnapshot) -> Definitions:
    """Dagster's floor for DESIGN §6: one bare executable asset (own op) per node, nothing else."""
    assets = []
    for pipeline in snapshot.pipelines:
        for spec in _bare_specs(pipeline):
            ins = {d.name: d for d in _NOTHING_INS[:len(spec.deps)]}
            op = OpDefinition(
                compute_fn=_bare_compute,
                name="__".join(spec.key.path).replace("-", "_"),
                ins=ins,
                outs=_NOTHING_OUTS,
                required_resource_keys=REQUIRED_RESOURCE_KEYS,
            )
            dep_keys = [dep.asset_key for dep in spec.deps]
            assets.append(AssetsDefinition(
                keys_by_input_name=dict(zip(ins, dep_keys, strict=True)),
                keys_by_output_name={"result": spec.key},
                node_def=op,
                specs=[spec],
            ))
    return _resolve(assets)


def load_multi_asset_per_pipeline(snapshot: GraphSnapshot) -> Definitions:
    """Option (b), rejected: one subsettable multi_asset per pipeline (one step per pipeline)."""
    assets = []
    for pipeline in snapshot.pipelines:
        @multi_asset(
            specs=_bare_specs(pipeline), can_subset=True, name=_op_name(pipeline.id),
            required_resource_keys=REQUIRED_RESOURCE_KEYS,
        )
        def _pipeline(context):
            for key in context.selected_asset_keys:
                yield MaterializeResult(asset_key=key)

        assets.append(_pipeline)
    return _resolve(assets)


def load_multi_asset_for_everything(snapshot: GraphSnapshot) -> Definitions:
    """Lower bound of any executable graph: every node an output of ONE subsettable op."""
    specs = [spec for pipeline in snapshot.pipelines for spec in _bare_specs(pipeline)]

    @multi_asset(specs=specs, can_subset=True, required_resource_keys=REQUIRED_RESOURCE_KEYS)
    def everything(context):
        for key in context.selected_asset_keys:
            yield MaterializeResult(asset_key=key)

    return _resolve([everything])


def load_graph_per_pipeline(snapshot: GraphSnapshot) -> Definitions:
    """Option (c): one graph-backed asset per pipeline, one aliased op (step, pool) per node.

    Keeps a step and a pool per node at execution (checked: a failing node skips only its
    downstream), but every asset of a pipeline shows all of the pipeline's pools, the compute must
    yield `Output` and call `context.asset_key_for_output` (a bare MaterializeResult or
    `context.asset_key` fails inside a graph), and step keys become `<pipeline>.<node>`.
    """
    ops: dict[int, OpDefinition] = {}
    assets = []
    for pipeline in snapshot.pipelines:
        alias = {node.id: "n_" + node.id.replace("-", "_") for node in pipeline.nodes}
        dependencies, mappings, keys, used = {}, [], {}, {}
        for node, spec in zip(pipeline.nodes, _bare_specs(pipeline), strict=True):
            count = len(node.input_ids)
            op = ops.get(count) or ops.setdefault(count, OpDefinition(
                compute_fn=_bare_compute, name=f"node_{count}_inputs",
                ins={d.name: d for d in _NOTHING_INS[:count]}, outs=_NOTHING_OUTS,
                required_resource_keys=REQUIRED_RESOURCE_KEYS,
            ))
            used[op.name] = op
            dependencies[NodeInvocation(op.name, alias=alias[node.id])] = {
                f"in_{index}": DependencyDefinition(alias[i], "result")
                for index, i in enumerate(node.input_ids)
            }
            mappings.append(OutputMapping(alias[node.id], alias[node.id], "result"))
            keys[alias[node.id]] = spec.key
        graph = GraphDefinition(
            name=_op_name(pipeline.id), node_defs=list(used.values()),
            dependencies=dependencies, output_mappings=mappings,
        )
        assets.append(AssetsDefinition(
            keys_by_input_name={}, keys_by_output_name=keys, node_def=graph,
            specs=_bare_specs(pipeline), can_subset=True,
        ))
    return _resolve(assets)


def _op_name(pipeline_id: str) -> str:
    return "pipeline_" + pipeline_id.replace("-", "_")


OPTIONS: dict[str, Callable[[GraphSnapshot], Definitions]] = {
    "(b) multi_asset per pipeline": load_multi_asset_per_pipeline,
    "(c) graph-backed asset per pipeline": load_graph_per_pipeline,
    "one multi_asset for all nodes": load_multi_asset_for_everything,
}


def _timed(fn: Callable[[GraphSnapshot], Definitions], snapshot: GraphSnapshot) -> float:
    gc.unfreeze()  # what the loader froze in an earlier run is garbage now
    gc.collect()  # start each run from the same heap state
    started = time.perf_counter()
    fn(snapshot)
    return time.perf_counter() - started


def peak_rss(nodes: int) -> tuple[float, float]:
    """(MB before the load, peak MB) of one load via the loader in a fresh child process."""
    done = subprocess.run([sys.executable, __file__, "--rss-child", str(nodes)],
                          capture_output=True, text=True, timeout=900, check=True)
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return raw["before"], raw["peak"]


def _peak_mb() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss would start at the parent's peak after fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(nodes: int) -> None:
    """Print this process's peak RSS before and after one load, in MB."""
    warnings.filterwarnings("ignore", category=PreviewWarning)
    snapshot = make_snapshot(nodes)
    snapshot.to_json()
    before = _peak_mb()
    load_via_loader(snapshot)
    print(json.dumps({"before": before, "peak": _peak_mb()}))


def bench(nodes: int, runs: int, options: bool = False, large: bool = False) -> float:
    """Print medians and the ratios for one size; return the issue's ratio (loader/plain)."""
    snapshot = make_snapshot(nodes)
    count = sum(len(p.nodes) for p in snapshot.pipelines)
    sides = {
        "loader": load_via_loader,
        "loader, default GC": load_default_gc,
        "plain specs": load_plain_specs,
        **({} if large else {"minimal executable": load_minimal_executable}),
        **(OPTIONS if options else {}),
    }
    warm = make_snapshot(200) if large else snapshot  # a big warm-up would cost minutes
    for fn in sides.values():
        fn(warm)  # warm imports and caches outside the timings
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, fn in sides.items():
            times[name].append(_timed(fn, snapshot))
    median = {name: statistics.median(values) for name, values in times.items()}
    ours, plain = median["loader"], median["plain specs"]
    ratio = ours / plain
    verdict = "OK" if ratio <= TARGET else "OVER TARGET"
    floor = median.get("minimal executable")
    print(f"{count} nodes: loader {ours:.3f}s, plain specs {plain:.3f}s"
          + (f", minimal executable {floor:.3f}s" if floor else "") + f" (median of {runs})")
    print(f"{count} nodes ratio {ratio:.2f} (target <= {TARGET}) {verdict}")
    if floor:
        print(f"{count} nodes translation overhead: loader / minimal executable "
              f"{ours / floor:.2f}; Dagster floor: minimal executable / plain specs "
              f"{floor / plain:.2f}")
    default_gc = median["loader, default GC"]
    print(f"{count} nodes GC paused+frozen: loader {ours:.3f}s vs default collector "
          f"{default_gc:.3f}s, ratio {ours / default_gc:.2f}")
    if large:
        before, peak = peak_rss(nodes)
        print(f"{count} nodes peak RSS {peak:.0f} MB ({peak - before:+.0f} MB for the load)")
        target = SECONDS_TARGET.get(nodes)
        if target:
            print(f"{count} nodes load {ours:.1f}s (target <= {target:.0f}s) "
                  f"{'OK' if ours <= target else 'OVER TARGET'}")
    for name in OPTIONS if options else ():
        reference = floor or plain
        print(f"{count} nodes option {name}: {median[name]:.3f}s, "
              f"{median[name] / plain:.2f}x plain specs, {median[name] / reference:.2f}x minimal")
    return ratio


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always exits 0 (it reports, the numbers are read by people)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 nodes, 2 runs (smoke test)")
    parser.add_argument("--runs", type=int, default=5, help="runs per size (median is used)")
    parser.add_argument(
        "--options", action="store_true", help="also time the rejected architectures (b), (c)"
    )
    parser.add_argument("--large", action="store_true",
                        help="10,000 and 20,000 nodes with peak RSS, 3 runs (issue 12.4)")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # StateBackedDefinitionsLoader itself calls the preview-flagged with_reconstruction_metadata.
    warnings.filterwarnings("ignore", category=PreviewWarning)
    if args.rss_child:
        rss_child(args.rss_child)
        return 0
    if args.large:
        sizes, runs = [10_000, 20_000], 3
    else:
        sizes, runs = ([200], 2) if args.quick else ([1000, 5000], max(5, args.runs))
    for size in sizes:
        bench(size, runs, options=args.options, large=args.large)
    return 0


if __name__ == "__main__":
    sys.exit(main())
