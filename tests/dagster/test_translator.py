"""Snapshot → asset translation: keys, deps, groups, kinds, tags, pools, and execution wiring."""

from __future__ import annotations

import json
import os
import re
import sys
import types
from pathlib import Path

import pytest
from dagster import AssetKey, AssetSpec, Definitions, MaterializeResult, materialize

from tests.dagster.graph_fixture import (
    DANGLING,
    LAUNCH,
    TUTORIAL,
    example_snapshot,
    node_id,
    render_graph,
    with_stub_resources,
)
from video_dagster.assets.checks import output_result, valid_result
from video_dagster.assets.translator import (
    REQUIRED_RESOURCE_KEYS,
    TAG_PIPELINE_ID,
    TAG_PROVIDER,
    TAG_TYPE,
    acyclic_inputs,
    build_node_assets,
    node_kinds,
    provider_label,
    tag_value,
)
from video_dagster.domain.keys import asset_key_path, group_name, node_id_of_key
from video_dagster.domain.snapshot import GraphSnapshot, NodeSkeleton, PipelineSkeleton

SNAPSHOT_FILE = Path(__file__).parent / "snapshots" / "example_graph.json"
STRICT_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")


_TYPES = {n.id: n.type for p in example_snapshot().pipelines for n in p.nodes}


def _key(pipeline: str, suffix: str) -> str:
    nid = node_id(pipeline, suffix)
    return "/".join(asset_key_path(pipeline, nid, _TYPES[nid]))


@pytest.fixture(scope="module")
def graph() -> dict:
    defs = with_stub_resources(Definitions(assets=build_node_assets(example_snapshot())))
    Definitions.validate_loadable(defs)
    return render_graph(defs)["assets"]


def test_one_asset_per_node_keyed_by_pipeline_and_node(graph: dict) -> None:
    expected = {
        "/".join(asset_key_path(p.id, n.id, n.type))
        for p in example_snapshot().pipelines for n in p.nodes
    }
    assert set(graph) == expected
    assert len(graph) == 14


def test_deps_follow_inputs_and_skip_dangling_cross_pipeline_self_and_cycle(graph: dict) -> None:
    assert graph[_key(LAUNCH, "02")]["deps"] == [_key(LAUNCH, "01")]
    assert graph[_key(LAUNCH, "06")]["deps"] == sorted(_key(LAUNCH, s) for s in ("03", "04", "05"))
    assert graph[_key(LAUNCH, "08")]["deps"] == [_key(LAUNCH, "07")]
    assert graph[_key(LAUNCH, "08")]["metadata"]["ignored_input_ids"] == DANGLING
    # Loop A keeps its first edge (to B) and drops itself; B's edge back to A would close a cycle.
    loop_a = graph[_key(TUTORIAL, "03")]["deps"]
    assert loop_a == sorted([_key(TUTORIAL, "04"), _key(TUTORIAL, "02")])
    assert graph[_key(TUTORIAL, "04")]["deps"] == []
    assert graph[_key(TUTORIAL, "06")]["deps"] == []  # input from another pipeline


def test_one_valid_group_per_pipeline(graph: dict) -> None:
    groups = {key.split("/")[1]: a["group"] for key, a in graph.items()}
    assert all(re.fullmatch(r"^[A-Za-z0-9_]+$", g) for g in groups.values())
    assert len(set(groups.values())) == 2
    assert groups[LAUNCH].startswith("product_launch_episode_1_")


def test_descriptions_are_node_titles(graph: dict) -> None:
    pipelines = example_snapshot().pipelines
    titles = {"/".join(asset_key_path(p.id, n.id, n.type)): n.title
              for p in pipelines for n in p.nodes}
    assert {key: a["description"] for key, a in graph.items()} == titles


def test_keys_say_what_the_node_is_and_survive_a_rename(graph: dict) -> None:
    shown = {key.rsplit("/", 1)[1] for key in graph}  # what Dagster draws on a card
    assert max(len(name) for name in shown) <= 18  # longer labels are cut in the middle
    assert {name.rsplit("_", 1)[0] for name in shown} >= {
        "asset", "voiceover", "avatar", "animation", "code", "merge"}
    pipeline = example_snapshot().pipelines[0]
    node = pipeline.nodes[1]
    renamed = PipelineSkeleton(pipeline.id, "Renamed pipeline", tuple(
        NodeSkeleton(n.id, n.pipeline_id, "A new title" if n is node else n.title, n.type,
                     n.provider, n.input_ids) for n in pipeline.nodes))
    (before,) = [a for a in build_node_assets(GraphSnapshot((pipeline,)))
                 if node_id_of_key(a.key.path) == node.id]
    (after,) = [a for a in build_node_assets(GraphSnapshot((renamed,)))
                if node_id_of_key(a.key.path) == node.id]
    assert before.key == after.key and before.op.name == after.op.name  # history kept
    assert after.specs_by_key[after.key].description == "A new title"
    assert node_id_of_key(after.key.path) == node.id
    assert node_id_of_key(["video", pipeline.id, node.id]) is None  # the old layout
    assert node_id_of_key(["video", pipeline.id, "x", "asset_x"]) is None


@pytest.mark.parametrize(
    ("pipeline", "suffix", "kinds", "provider", "pool"),
    [
        (LAUNCH, "01", {"file"}, "local", "video_local"),
        (LAUNCH, "02", {"audio", "elevenlabs"}, "elevenlabs", "video_elevenlabs"),
        (LAUNCH, "03", {"video", "heygen"}, "heygen", "video_heygen"),
        (LAUNCH, "04", {"video", "veo3"}, "veo3", "video_veo3"),
        (LAUNCH, "05", {"video", "remotion"}, "remotion", "video_remotion"),
        (LAUNCH, "08", {"video", "ffmpeg"}, "ffmpeg", "video_ffmpeg"),
        (TUTORIAL, "02", {"video", "heygen"}, "heygen", "video_heygen"),
        (TUTORIAL, "05", {"Topaz_Labs_v2"}, "Topaz_Labs_v2", "video_Topaz_Labs_v2"),
        (TUTORIAL, "06", {"video"}, "unknown", "video_unknown"),
    ],
)
def test_kinds_tags_and_pool_per_provider(
    graph: dict, pipeline: str, suffix: str, kinds: set, provider: str, pool: str
) -> None:
    asset = graph[_key(pipeline, suffix)]
    assert set(asset["kinds"]) == kinds
    assert asset["tags"]["video/provider"] == provider
    assert asset["tags"]["video/pipeline_id"] == pipeline
    assert asset["pools"] == [pool]
    assert asset["metadata"]["node_id"] == node_id(pipeline, suffix)


def test_tag_values_obey_dagster_strict_rules(graph: dict) -> None:
    values = [v for a in graph.values() for v in a["tags"].values()]
    assert values and all(STRICT_TAG_VALUE.match(v) for v in values)
    assert graph[_key(TUTORIAL, "05")]["tags"]["video/type"] == "upscale-video"
    assert tag_value("x" * 80 + " /é") == "x" * 63


def test_all_assets_share_one_compute_and_need_the_four_resources() -> None:
    assets = build_node_assets(example_snapshot())
    assert len({a.op.compute_fn for a in assets}) == 1
    assert len({a.op.name for a in assets}) == len(assets)
    assert all(a.op.required_resource_keys == REQUIRED_RESOURCE_KEYS for a in assets)
    assert all(not a.partitions_def and not a.can_subset and len(a.keys) == 1 for a in assets)


def test_specs_equal_what_the_public_asset_spec_constructor_builds() -> None:
    # The translator derives each spec from a validated template with `replace`, skipping
    # AssetSpec.__new__; this pins that the shortcut builds exactly the same spec (and catches a
    # Dagster upgrade that makes __new__ do more than validate and coerce).
    snapshot = example_snapshot()
    expected = {}
    for pipeline in snapshot.pipelines:
        kept = acyclic_inputs(pipeline)
        for node in pipeline.nodes:
            key = AssetKey(asset_key_path(pipeline.id, node.id, node.type))
            ignored = [i for i in node.input_ids if i not in kept[node.id]]
            metadata = {"node_id": node.id, "pipeline_id": pipeline.id,
                        "pipeline_title": pipeline.title}
            if ignored:
                metadata["ignored_input_ids"] = ", ".join(ignored)
            expected[key] = AssetSpec(
                key,
                deps=[AssetKey(asset_key_path(pipeline.id, i, _TYPES[i])) for i in kept[node.id]],
                description=node.title,
                group_name=group_name(pipeline.title, pipeline.id),
                kinds=node_kinds(node),
                tags={TAG_TYPE: tag_value(node.type), TAG_PROVIDER: provider_label(node),
                      TAG_PIPELINE_ID: tag_value(pipeline.id)},
                metadata=metadata,
            )
    built = {a.key: next(iter(a.specs)) for a in build_node_assets(snapshot)}
    assert built.keys() == expected.keys()
    # AssetsDefinition normalizes specs (skippable, output metadata); compare what went in.
    for key, spec in built.items():
        want = expected[key]
        for field in ("key", "deps", "description", "group_name", "tags", "metadata", "owners",
                      "code_version", "automation_condition", "partitions_def"):
            assert getattr(spec, field) == getattr(want, field), (key, field)
        assert spec.kinds == want.kinds


def test_ops_share_nothing_inputs_and_a_presigned_compute() -> None:
    assets = build_node_assets(example_snapshot())
    by_fan_in: dict[int, set[int]] = {}
    for asset in assets:
        # Inputs stay in_0..in_n, each Nothing-typed and mapped to one upstream key.
        names = sorted(asset.op.ins)
        assert names == [f"in_{i}" for i in range(len(names))]
        assert all(d.dagster_type.is_nothing for d in asset.op.input_defs)
        assert set(asset.keys_by_input_name) == set(names)
        for input_def in asset.op.input_defs:
            by_fan_in.setdefault(len(names), set()).add(id(input_def))
    assert all(len(ids) == fan_in for fan_in, ids in by_fan_in.items())
    compute = assets[0].op.compute_fn
    assert list(compute.__signature__.parameters) == ["context", "_inputs"]


def test_empty_snapshot_loads() -> None:
    assert build_node_assets(GraphSnapshot(pipelines=())) == []
    empty = PipelineSkeleton(id=LAUNCH, title="???", nodes=())
    Definitions.validate_loadable(
        with_stub_resources(Definitions(assets=build_node_assets(GraphSnapshot((empty,)))))
    )


def test_materializing_runs_the_node_through_execute_in_dependency_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[NodeSkeleton, bool]] = []

    def materialize_node(context, node: NodeSkeleton) -> MaterializeResult | None:
        calls.append((node, context.resources.database is None))
        # None exercises the translator's fallback; a result carries output metadata.
        return None if node.type == "asset" else MaterializeResult(metadata={"uri": "file:///x"})

    fake = types.ModuleType("video_dagster.assets.execute")
    fake.materialize_node = materialize_node  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "video_dagster.assets.execute", fake)

    def finish(context, node: NodeSkeleton, result):
        yield MaterializeResult() if result is None else result
        yield valid_result(context.asset_key, True, {})
        yield output_result(context.asset_key, None, None)  # no output: fails, as it should

    reporting = types.ModuleType("video_dagster.assets.reporting")
    reporting.finish = finish  # type: ignore[attr-defined]
    reporting.report_failure = lambda *args: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "video_dagster.assets.reporting", reporting)

    snapshot = example_snapshot()
    assets = build_node_assets(snapshot)
    stubs = with_stub_resources(Definitions()).resources
    selection = [AssetKey.from_user_string(_key(LAUNCH, s)) for s in ("02", "01")]
    result = materialize(assets, selection=selection, resources=stubs)

    assert result.success
    launch = {n.id: n for n in snapshot.pipelines[0].nodes}
    assert calls == [(launch[node_id(LAUNCH, "01")], True), (launch[node_id(LAUNCH, "02")], True)]
    events = {e.asset_key: e for e in result.get_asset_materialization_events()}
    assert set(events) == set(selection)
    voiceover = events[selection[0]].event_specific_data.materialization  # type: ignore[union-attr]
    assert voiceover.metadata["uri"].value == "file:///x"
    checks = {(e.asset_key, e.check_name): e.passed
              for e in result.get_asset_check_evaluations()}
    assert checks == {**{(k, "valid"): True for k in selection},
                      **{(k, "output"): False for k in selection}}


def test_graph_matches_snapshot_file(graph: dict) -> None:
    rendered = json.dumps(graph, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT_FILE.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT_FILE.write_text(rendered, encoding="utf-8")
    assert SNAPSHOT_FILE.exists(), "run with UPDATE_SNAPSHOTS=1 to create the snapshot"
    assert rendered == SNAPSHOT_FILE.read_text(encoding="utf-8"), (
        "asset graph changed; review, then rerun with UPDATE_SNAPSHOTS=1"
    )
