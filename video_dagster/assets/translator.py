"""Translate a GraphSnapshot into one Dagster asset per pipeline node (pure: no database)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    Nothing,
    OpDefinition,
    Out,
)
from dagster._core.definitions.input import InputDefinition
from dagster_shared.record import replace

from video_dagster.assets.checks import CHECK_OUTPUTS, check_specs
from video_dagster.domain.keys import asset_key_path, group_name, step_name
from video_dagster.domain.nodes import LEGACY_TYPE_NAMES, NODE_TYPES
from video_dagster.domain.snapshot import GraphSnapshot, NodeSkeleton, PipelineSkeleton

REQUIRED_RESOURCE_KEYS = frozenset({"database", "object_store", "lambda_invoker", "providers"})
TAG_TYPE = "video/type"
TAG_PROVIDER = "video/provider"
TAG_PIPELINE_ID = "video/pipeline_id"
LOCAL_PROVIDER = "local"
"""Provider label of `asset` nodes: they run in-process (pool `video_local`)."""
UNKNOWN_PROVIDER = "unknown"
"""Provider label of executable nodes without a provider (invalid, but they must still load)."""

# Kinds come from the type table (domain/nodes.py), legacy spellings included.
_KIND_BY_TYPE = {name: spec.kind for name, spec in NODE_TYPES.items()} | {
    legacy: NODE_TYPES[name].kind for legacy, name in LEGACY_TYPE_NAMES.items()
}
# Dagster's strict tag values and kind names (`dagster/kind/<kind>` keys) allow only these.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_TAG_MAX = 63
# Op names (step keys) must match ^[A-Za-z0-9_]+$.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
# Nothing-typed: the asset body writes its output to the object store itself, so no I/O manager
# ever stores or loads a value, and an upstream edge only orders the steps.
_OUTPUT = "result"
# Plus one output per asset check (`valid`, `output`), required: the body always reports both.
_OUTS = {_OUTPUT: Out(Nothing), **{name: Out(dagster_type=None) for name in CHECK_OUTPUTS}}

ComputeFn = Callable[[AssetExecutionContext, Mapping[str, Any]], Iterator[Any]]


def build_node_assets(snapshot: GraphSnapshot) -> list[AssetsDefinition]:
    """One unpartitioned asset (own op, own step, own pool) per node of every pipeline."""
    # Load time is dominated by Dagster's fixed cost per executable asset (an OpDefinition, an
    # AssetsDefinition, and the copy `Definitions` makes of it to bind resources), which this
    # design cannot avoid. What is ours is kept off the per-node path: one compute function, one
    # set of Nothing inputs, tags and kinds validated once per (type, provider), and the group and
    # pipeline tag once per pipeline (see bench/definitions_load.py for the measured split).
    nodes_by_key: dict[AssetKey, NodeSkeleton] = {}
    compute = _shared_compute(nodes_by_key)
    tags_by_type: dict[tuple[str, str | None], dict[str, str]] = {}
    assets: list[AssetsDefinition] = []
    for pipeline in snapshot.pipelines:
        keys = {node.id: AssetKey(asset_key_path(pipeline.id, node.id, node.type))
                for node in pipeline.nodes}
        if not keys:
            continue
        template = _pipeline_template(pipeline, next(iter(keys.values())))
        asset_deps: dict[str, AssetDep] = {}
        kept = acyclic_inputs(pipeline)
        for node in pipeline.nodes:
            key = keys[node.id]
            nodes_by_key[key] = node
            deps = [keys[input_id] for input_id in kept[node.id]]
            ignored = [i for i in node.input_ids if i not in kept[node.id]]
            type_tags = tags_by_type.get((node.type, node.provider))
            if type_tags is None:
                type_tags = tags_by_type[(node.type, node.provider)] = _type_tags(node)
            for input_id in kept[node.id]:
                if input_id not in asset_deps:
                    asset_deps[input_id] = AssetDep(keys[input_id])
            spec = _node_spec(
                node, pipeline, template, type_tags, key,
                [asset_deps[i] for i in kept[node.id]], ignored,
            )
            assets.append(_node_asset(key, spec, deps, pool_name(node), compute,
                                      step_name(node.id, node.type)))
    return assets


def acyclic_inputs(pipeline: PipelineSkeleton) -> dict[str, list[str]]:
    """Inputs that can become asset deps: same-pipeline nodes, minus edges that close a cycle."""
    # Validation marks such nodes invalid, but one dangling key, self-dependency or cycle would
    # otherwise fail the whole code-location load and hide every other pipeline.
    ids = {node.id for node in pipeline.nodes}
    inputs = {n.id: [i for i in dict.fromkeys(n.input_ids) if i in ids] for n in pipeline.nodes}
    kept: dict[str, list[str]] = {node_id: [] for node_id in inputs}
    on_path, done = set(), set()
    # Iterative DFS in node-id and slot order, so the dropped edges are deterministic.
    for root in inputs:
        if root in done:
            continue
        on_path.add(root)
        stack = [(root, iter(inputs[root]))]
        while stack:
            node_id, pending = stack[-1]
            for dep in pending:
                if dep in on_path:
                    continue
                kept[node_id].append(dep)
                if dep not in done:
                    on_path.add(dep)
                    stack.append((dep, iter(inputs[dep])))
                    break
            else:
                stack.pop()
                on_path.discard(node_id)
                done.add(node_id)
    return kept


def provider_label(node: NodeSkeleton) -> str:
    """The provider a node runs on, as a valid tag value (`local` for asset nodes)."""
    if node.type == "asset":
        return LOCAL_PROVIDER
    return tag_value(node.provider or "") or UNKNOWN_PROVIDER


def pool_name(node: NodeSkeleton) -> str:
    """Concurrency pool per provider, so `dagster instance concurrency set` can cap each API."""
    return f"video_{provider_label(node)}"


def tag_value(raw: str) -> str:
    """Coerce editor-written text into Dagster's strict tag-value alphabet."""
    return _TAG_UNSAFE.sub("_", raw)[:_TAG_MAX]


def node_kinds(node: NodeSkeleton) -> set[str]:
    """Media kind from the type, plus the provider when it names a real one."""
    kinds = {_KIND_BY_TYPE[node.type]} if node.type in _KIND_BY_TYPE else set()
    label = provider_label(node)
    if label not in (LOCAL_PROVIDER, UNKNOWN_PROVIDER):
        kinds.add(label)
    return kinds


def _pipeline_template(pipeline: PipelineSkeleton, key: AssetKey) -> AssetSpec:
    """A validated spec with the pipeline's group and pipeline-id tag (any key of the pipeline)."""
    return AssetSpec(
        key,
        group_name=group_name(pipeline.title, pipeline.id),
        tags={TAG_PIPELINE_ID: tag_value(pipeline.id)},
    )


def _type_tags(node: NodeSkeleton) -> dict[str, str]:
    """Type and provider tags plus `dagster/kind/*` tags, validated by a throwaway AssetSpec."""
    tags = {TAG_TYPE: tag_value(node.type), TAG_PROVIDER: provider_label(node)}
    return dict(AssetSpec("video_type_tags", kinds=node_kinds(node), tags=tags).tags)


def _node_spec(
    node: NodeSkeleton,
    pipeline: PipelineSkeleton,
    template: AssetSpec,
    type_tags: Mapping[str, str],
    key: AssetKey,
    deps: Sequence[AssetDep],
    ignored: Sequence[str],
) -> AssetSpec:
    """The pipeline template with this node's key, deps, description, tags and metadata."""
    metadata: dict[str, str] = {
        "node_id": node.id,
        "pipeline_id": pipeline.id,
        "pipeline_title": pipeline.title,
    }
    if ignored:
        # Shown in the UI so an operator sees why an edge from the editor is missing.
        metadata["ignored_input_ids"] = ", ".join(ignored)
    # `replace` is Dagster's own way to derive a spec (AssetsDefinition normalizes specs with it):
    # it type-checks every field but skips AssetSpec.__new__, whose work (group, tag and kind
    # validation, dep coercion) was done once for the pipeline and once for the type/provider;
    # the union of two validated tag sets with distinct keys is valid. What __new__ would check
    # for a new key and deps holds by construction: deps are deduplicated AssetDeps of the same
    # pipeline and never the node itself (acyclic_inputs). test_translator compares every spec
    # with the one the public constructor builds.
    return replace(
        template,
        key=key,
        deps=deps,
        description=node.title,
        metadata=metadata,
        tags={**template.tags, **type_tags},
    )


def _node_asset(
    key: AssetKey,
    spec: AssetSpec,
    deps: Sequence[AssetKey],
    pool: str,
    compute: ComputeFn,
    name: str,
) -> AssetsDefinition:
    ins = _nothing_inputs(len(deps))
    # OpDefinition + AssetsDefinition directly (the documented path for generated ops): the
    # decorators re-inspect the function signature per node and cost ~2x more at load time.
    op = OpDefinition(
        compute_fn=compute,
        # The step name in run timelines: readable first (`merge_3811b680…`), unique.
        name=_NAME_UNSAFE.sub("_", name),
        ins=ins,
        outs=_OUTS,
        required_resource_keys=REQUIRED_RESOURCE_KEYS,
        pool=pool,
    )
    return AssetsDefinition(
        keys_by_input_name=dict(zip(ins, deps, strict=True)),
        keys_by_output_name={_OUTPUT: key},
        node_def=op,
        specs=[spec],
        check_specs_by_output_name=check_specs(key),
    )


_INPUTS_BY_COUNT: dict[int, dict[str, InputDefinition]] = {}


def _nothing_inputs(count: int) -> dict[str, InputDefinition]:
    """`in_0`..`in_<count-1>` as Nothing inputs, shared by every op with that many deps."""
    # OpDefinition takes InputDefinitions as they are (`In` is converted, resolving its type, per
    # op). They are immutable, so ops can share them; the dict is only read by OpDefinition.
    ins = _INPUTS_BY_COUNT.get(count)
    if ins is None:
        names = [f"in_{index}" for index in range(count)]
        ins = _INPUTS_BY_COUNT[count] = {name: InputDefinition(name, Nothing) for name in names}
    return ins


def _shared_compute(nodes_by_key: Mapping[AssetKey, NodeSkeleton]) -> ComputeFn:
    """The one compute function of every node asset; it finds its node by asset key."""

    # `context` stays unannotated: Dagster rejects the string annotations this module produces.
    def compute(context, _inputs: Mapping[str, Any]) -> Iterator[Any]:
        # Imported per run, not per load: execution pulls in clients a code server never needs.
        from video_dagster.assets.execute import materialize_node
        from video_dagster.assets.reporting import finish, report_failure

        node = nodes_by_key[context.asset_key]
        try:
            result = materialize_node(context, node)
        except Failure as exc:
            report_failure(context, node, exc)
            raise
        # The result plus preview, poster and pipeline totals, then the node's two checks.
        yield from finish(context, node, result)

    # OpDefinition inspects the compute function's signature once per op (to validate the context
    # annotation); a precomputed __signature__ makes that lookup free for the 2nd..nth node.
    compute.__signature__ = inspect.signature(compute)  # type: ignore[attr-defined]
    return compute
