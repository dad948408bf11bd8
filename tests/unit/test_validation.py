"""Every validation rule and message of DESIGN §3, as tables, plus a never-raises property."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from video_dagster.domain.nodes import (
    EXECUTABLE_TYPES,
    NODE_TYPES,
    PROVIDER_TYPES,
    FieldSpec,
    SlotSpec,
    canonical_type,
    provider_of,
)
from video_dagster.domain.validation import (
    NodeDraft,
    _check_field,
    _check_slot,
    referenced_ids,
    validate_node,
    validate_pipeline,
)

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
C = "00000000-0000-4000-8000-00000000000c"
ME = "00000000-0000-4000-8000-0000000000ee"
GHOST = "00000000-0000-4000-8000-000000000999"  # a UUID that is not in the pipeline
PIPELINE_IDS = frozenset({A, B, C, ME})
SINGLE = "must be a single node UUID (string), not an array"

TH = "generate-talking-head"
TH_CONFIG = {"provider": "heygen", "avatarId": "av1"}
COMPOSE_CONFIG = {"provider": "ffmpeg", "rounded": False}
FF = {"provider": "ffmpeg"}


def errors(node_type: Any, inputs: Any, config: Any) -> dict[str, str]:
    return validate_node(NodeDraft(ME, node_type, inputs, config), PIPELINE_IDS)


def req(node_type: str) -> str:
    return f"is required for {node_type} nodes"


VALID = [
    ("asset", {}, {}),
    ("asset", None, None),
    ("asset", [], {"anything": 1}),
    ("generate-voiceover", None, {"provider": "elevenlabs"}),
    ("generate-voiceover", [], {"provider": "elevenlabs"}),
    (TH, {"audio": A}, TH_CONFIG),
    (TH, {"audio": [A], "background": [B]}, {**TH_CONFIG, "width": 1280, "height": 720}),
    ("talking-head", {"audio": A, "background": None}, TH_CONFIG),
    ("generate-voiceover", {}, {"provider": "elevenlabs"}),
    (
        "generate-voiceover",
        {"script": A},
        {"provider": "elevenlabs", "voiceId": "v", "modelId": "m", "stability": 0.5,
         "similarityBoost": 1},
    ),
    ("generate-animation", {"prompt": A, "referenceImage": [B]}, {"provider": "veo3"}),
    ("generate-animation", {}, {"provider": "runway"}),
    ("generate-animation", {}, {"provider": "stability"}),
    ("render-code", {"config": A}, {"provider": "remotion"}),
    ("render-code", {}, {"provider": "builtin", "extraKey": [1, 2]}),
    ("mix-audio", {"video": A, "audio": [B]}, FF),
    ("merge-videos", {"segments": [A, B]}, FF),
    ("merge-videos", {"segments": [A, B, A, C]}, FF),
    ("compose-video", {"background": A, "overlay": B}, COMPOSE_CONFIG),
    (
        "compose-video",
        {"background": [A], "overlay": B},
        {**COMPOSE_CONFIG, "rounded": True, "cropTop": 0, "cropLeft": 10, "cropWidth": 640,
         "cropHeight": 360, "cropUnknown": "ignored"},
    ),
]


@pytest.mark.parametrize(("node_type", "inputs", "config"), VALID)
def test_valid_nodes_have_no_errors(node_type: str, inputs: Any, config: Any) -> None:
    assert errors(node_type, inputs, config) == {}


INVALID = [
    # type
    ("video-magic", {}, {}, {"invalid_type": "Unknown node type: video-magic"}),
    ("", {}, {}, {"invalid_type": "Unknown node type: "}),
    (None, {}, {}, {"invalid_type": "Unknown node type: null"}),
    (7, {}, {}, {"invalid_type": "Unknown node type: 7"}),
    (True, {}, {}, {"invalid_type": "Unknown node type: true"}),
    (["asset"], {}, {}, {"invalid_type": "Unknown node type: (array)"}),
    ("Asset", {}, {}, {"invalid_type": "Unknown node type: Asset"}),
    # asset with inputs
    ("asset", {"audio": A}, {}, {"unexpected_inputs": "asset nodes should not have inputs"}),
    ("asset", {"x": None}, {}, {"unexpected_inputs": "asset nodes should not have inputs"}),
    ("asset", [A], {}, {"unexpected_inputs": "asset nodes should not have inputs"}),
    # unexpected slots, sorted, whatever their value
    ("mix-audio", {"video": A, "audio": B, "zeta": 1, "alpha": None}, FF,
     {"unexpected_inputs": "Unexpected input slot(s): alpha, zeta"}),
    ("generate-voiceover", {"Script": A}, {"provider": "elevenlabs"},
     {"unexpected_inputs": "Unexpected input slot(s): Script"}),
    # required single slot missing or blank (type named as written)
    (TH, {}, TH_CONFIG, {"audio": req(TH)}),
    ("talking-head", {}, TH_CONFIG, {"audio": req("talking-head")}),
    (TH, {"audio": None}, TH_CONFIG, {"audio": req(TH)}),
    (TH, {"audio": ""}, TH_CONFIG, {"audio": req(TH)}),
    (TH, {"audio": "   "}, TH_CONFIG, {"audio": req(TH)}),
    (TH, {"audio": []}, TH_CONFIG, {"audio": req(TH)}),
    (TH, {"audio": {}}, TH_CONFIG, {"audio": req(TH)}),
    (TH, {"audio": [None]}, TH_CONFIG, {"audio": req(TH)}),
    (TH, {"audio": [""]}, TH_CONFIG, {"audio": req(TH)}),
    ("mix-audio", {}, FF, {"video": req("mix-audio"), "audio": req("mix-audio")}),
    ("compose-video", {"overlay": A}, COMPOSE_CONFIG, {"background": req("compose-video")}),
    ("compose-video", {"background": A}, COMPOSE_CONFIG, {"overlay": req("compose-video")}),
    # single slot shapes
    (TH, {"audio": [A, B]}, TH_CONFIG, {"audio": SINGLE}),
    (TH, {"audio": 5}, TH_CONFIG, {"audio": SINGLE}),
    (TH, {"audio": True}, TH_CONFIG, {"audio": SINGLE}),
    (TH, {"audio": {"id": A}}, TH_CONFIG, {"audio": SINGLE}),
    (TH, {"audio": [5]}, TH_CONFIG, {"audio": SINGLE}),
    (TH, {"audio": A, "background": [A, B]}, TH_CONFIG, {"background": SINGLE}),
    ("render-code", {"config": [A, B]}, {"provider": "builtin"}, {"config": SINGLE}),
    # multiple slot shapes and counts
    ("merge-videos", {}, FF, {"segments": req("merge-videos")}),
    ("merge-videos", {"segments": []}, FF, {"segments": req("merge-videos")}),
    ("merge-videos", {"segments": None}, FF, {"segments": req("merge-videos")}),
    ("merge-videos", {"segments": A}, FF, {"segments": "must be an array"}),
    ("merge-videos", {"segments": {"0": A, "1": B}}, FF, {"segments": "must be an array"}),
    ("merge-videos", {"segments": 3}, FF, {"segments": "must be an array"}),
    ("merge-videos", {"segments": [A]}, FF,
     {"segments": "requires at least 2 items, got 1"}),
    ("merge-videos", {"segments": [A, 5]}, FF,
     {"segments": "must contain only node UUIDs (strings)"}),
    ("merge-videos", {"segments": [A, ""]}, FF,
     {"segments": "must contain only node UUIDs (strings)"}),
    # references: unknown UUIDs and non-UUID strings, in order, deduplicated
    (TH, {"audio": GHOST}, TH_CONFIG, {"audio": f"references non-existent nodes: {GHOST}"}),
    (TH, {"audio": ["not-a-uuid"]}, TH_CONFIG,
     {"audio": "references non-existent nodes: not-a-uuid"}),
    (TH, {"audio": A.upper()}, TH_CONFIG,
     {"audio": f"references non-existent nodes: {A.upper()}"}),
    (TH, {"audio": "'; DROP TABLE x; --"}, TH_CONFIG,
     {"audio": "references non-existent nodes: '; DROP TABLE x; --"}),
    ("merge-videos", {"segments": [GHOST, "abc", A, GHOST, "abc"]}, FF,
     {"segments": f"references non-existent nodes: {GHOST}, abc"}),
    # config: provider
    (TH, {"audio": A}, {"avatarId": "a"}, {"provider": req(TH)}),
    ("talking-head", {"audio": A}, {"avatarId": "a"}, {"provider": req("talking-head")}),
    (TH, {"audio": A}, {**TH_CONFIG, "provider": ""}, {"provider": req(TH)}),
    (TH, {"audio": A}, {**TH_CONFIG, "provider": None}, {"provider": req(TH)}),
    (TH, {"audio": A}, {**TH_CONFIG, "provider": 5}, {"provider": "must be a string"}),
    (TH, {"audio": A}, {**TH_CONFIG, "provider": "HeyGen"}, {"provider": "must be one of: heygen"}),
    ("generate-voiceover", {}, {"provider": "openai"}, {"provider": "must be one of: elevenlabs"}),
    ("generate-animation", {}, {"provider": "sora"},
     {"provider": "must be one of: veo3, runway, stability"}),
    ("render-code", {}, {"provider": "ffmpeg"},
     {"provider": "must be one of: remotion, builtin, native"}),
    ("mix-audio", {"video": A, "audio": B}, {"provider": "sox"},
     {"provider": "must be one of: ffmpeg"}),
    ("merge-videos", {"segments": [A, B]}, {}, {"provider": req("merge-videos")}),
    ("compose-video", {"background": A, "overlay": B}, {"rounded": True},
     {"provider": req("compose-video")}),
    # config: other required fields and type checks
    (TH, {"audio": A}, {"provider": "heygen"}, {"avatarId": req(TH)}),
    (TH, {"audio": A}, {**TH_CONFIG, "avatarId": "  "}, {"avatarId": req(TH)}),
    (TH, {"audio": A}, {**TH_CONFIG, "avatarId": 42}, {"avatarId": "must be a string"}),
    (TH, {"audio": A}, {**TH_CONFIG, "width": 1280.0}, {"width": "must be a integer"}),
    (TH, {"audio": A}, {**TH_CONFIG, "width": True}, {"width": "must be a integer"}),
    (TH, {"audio": A}, {**TH_CONFIG, "height": "720"}, {"height": "must be a integer"}),
    (TH, {"audio": A}, {**TH_CONFIG, "height": ""}, {"height": "must be a integer"}),
    ("compose-video", {"background": A, "overlay": B}, FF, {"rounded": req("compose-video")}),
    ("compose-video", {"background": A, "overlay": B}, {**FF, "rounded": "yes"},
     {"rounded": "must be a boolean"}),
    ("compose-video", {"background": A, "overlay": B}, {**FF, "rounded": 1},
     {"rounded": "must be a boolean"}),
    ("compose-video", {"background": A, "overlay": B}, {**COMPOSE_CONFIG, "cropTop": 1.5},
     {"cropTop": "must be a integer"}),
    ("compose-video", {"background": A, "overlay": B}, {**COMPOSE_CONFIG, "cropHeight": False},
     {"cropHeight": "must be a integer"}),
    ("generate-voiceover", {}, {"provider": "elevenlabs", "voiceId": 5},
     {"voiceId": "must be a string"}),
    ("generate-voiceover", {}, {"provider": "elevenlabs", "stability": "high"},
     {"stability": "must be a number"}),
    ("generate-voiceover", {}, {"provider": "elevenlabs", "similarityBoost": True},
     {"similarityBoost": "must be a number"}),
    # non-hash inputs / config: reported, then checked as empty
    ("mix-audio", "oops", FF,
     {"inputs": "must be a hash", "video": req("mix-audio"), "audio": req("mix-audio")}),
    ("generate-voiceover", [A], {"provider": "elevenlabs"}, {"inputs": "must be a hash"}),
    ("merge-videos", {"segments": [A, B]}, [FF], {"config": "must be a hash",
                                                   "provider": req("merge-videos")}),
    ("merge-videos", {"segments": [A, B]}, [], {"provider": req("merge-videos")}),
    ("mix-audio", [], FF, {"video": req("mix-audio"), "audio": req("mix-audio")}),
    ("mix-audio", "", FF, {"video": req("mix-audio"), "audio": req("mix-audio")}),
    ("asset", {}, "text", {"config": "must be a hash"}),
    # render-code's `config` slot error is found first and wins over a non-hash config
    ("render-code", {"config": 5}, "bad", {"config": SINGLE, "provider": req("render-code")}),
    # several errors at once, reported together
    (TH, {"audio": [A, B], "extra": 1}, {"provider": "x", "avatarId": None, "width": 1.0},
     {"unexpected_inputs": "Unexpected input slot(s): extra", "audio": SINGLE,
      "provider": "must be one of: heygen", "avatarId": req(TH), "width": "must be a integer"}),
]


@pytest.mark.parametrize(("node_type", "inputs", "config", "expected"), INVALID)
def test_invalid_nodes_report_exact_messages(
    node_type: Any, inputs: Any, config: Any, expected: dict[str, str]
) -> None:
    assert errors(node_type, inputs, config) == expected


@pytest.mark.parametrize(
    ("slot", "value", "expected"),
    [
        (SlotSpec("s", multiple=True, max_items=2), [A, B, C], "allows at most 2 items, got 3"),
        (SlotSpec("s", multiple=True, min_items=2, max_items=3), [A, B, C], None),
        (SlotSpec("s", multiple=True, min_items=3), [A, B], "requires at least 3 items, got 2"),
    ],
)
def test_multiple_slot_bounds(slot: SlotSpec, value: list[str], expected: str | None) -> None:
    # No shipped type has a max; the message is part of the contract all the same.
    assert _check_slot(slot, value, "x", PIPELINE_IDS) == expected


@pytest.mark.parametrize(
    ("kind", "good", "bad", "message"),
    [
        ("array", [1], {"a": 1}, "must be a array"),
        ("hash", {"a": 1}, [1], "must be a hash"),
        ("integer", -3, 3.0, "must be a integer"),
        ("number", 3.5, "3.5", "must be a number"),
        ("string", "s", None, None),  # optional null is simply absent
    ],
)
def test_field_kinds(kind: Any, good: Any, bad: Any, message: str | None) -> None:
    field = FieldSpec("f", kind)
    assert _check_field(field, good, "x") is None
    assert _check_field(field, bad, "x") == message


def test_registry_shape() -> None:
    assert set(NODE_TYPES) == {
        "asset", TH, "generate-animation", "generate-voiceover", "render-code", "mix-audio",
        "merge-videos", "compose-video",
    }
    assert canonical_type("talking-head") == TH
    assert canonical_type("merge-videos") == "merge-videos"
    assert EXECUTABLE_TYPES == frozenset(NODE_TYPES)
    assert PROVIDER_TYPES == frozenset(NODE_TYPES) - {"asset"}
    assert NODE_TYPES["render-code"].providers == ("remotion", "builtin", "native")


@pytest.mark.parametrize(
    ("node_type", "config", "expected"),
    [
        ("asset", {"provider": "ffmpeg"}, None),
        ("talking-head", {"provider": "heygen"}, "heygen"),
        ("render-code", {"provider": "builtin"}, "builtin"),
        ("render-code", {"provider": "evil pool name"}, None),
        ("merge-videos", {}, None),
        ("merge-videos", "garbage", None),
        ("nope", {"provider": "ffmpeg"}, None),
        ([1], {"provider": "ffmpeg"}, None),
    ],
)
def test_provider_of(node_type: Any, config: Any, expected: str | None) -> None:
    assert provider_of(node_type, config) == expected


@pytest.mark.parametrize(
    ("node_type", "inputs", "expected"),
    [
        (TH, {"audio": A, "background": [B]}, (A, B)),
        ("talking-head", {"background": B, "audio": A}, (A, B)),  # slot order, not key order
        ("merge-videos", {"segments": [B, A, B, 5, "", None, C]}, (B, A, C)),
        ("mix-audio", {"video": A, "audio": A}, (A,)),
        ("mix-audio", {"video": [A, B], "audio": {"x": C}}, (A, B)),  # invalid shape, still read
        ("generate-voiceover", {"script": "not-a-uuid", "other": B}, ("not-a-uuid",)),
        ("asset", {"audio": A}, ()),
        ("unknown", {"audio": A}, ()),
        (None, {"audio": A}, ()),
        (TH, [A], ()),
        (TH, None, ()),
        (TH, {"audio": "  "}, ()),
    ],
)
def test_referenced_ids(node_type: Any, inputs: Any, expected: tuple[str, ...]) -> None:
    assert referenced_ids(node_type, inputs) == expected


def voice(node_id: str, script: Any = None) -> NodeDraft:
    return NodeDraft(node_id, "generate-voiceover", {"script": script}, {"provider": "elevenlabs"})


def test_pipeline_two_node_cycle_names_the_cycle_from_each_node() -> None:
    result = validate_pipeline([voice(A, B), voice(B, A), voice(C, A)])
    assert result == {
        A: {"inputs": f"Cycle detected: {A} -> {B} -> {A}"},
        B: {"inputs": f"Cycle detected: {B} -> {A} -> {B}"},
        C: {},  # downstream of a cycle, not on it
    }


def test_pipeline_self_reference_keeps_other_errors() -> None:
    node = NodeDraft(A, "mix-audio", {"video": A, "audio": GHOST}, {"provider": "sox"})
    assert validate_pipeline([node]) == {
        A: {
            "audio": f"references non-existent nodes: {GHOST}",
            "provider": "must be one of: ffmpeg",
            "inputs": f"Node depends on itself: {A}",
        }
    }


def test_pipeline_three_cycle_through_legacy_and_list_shapes() -> None:
    nodes = [
        NodeDraft(A, "talking-head", {"audio": [B]}, TH_CONFIG),
        NodeDraft(B, "merge-videos", {"segments": [C, GHOST]}, FF),
        voice(C, A),
    ]
    result = validate_pipeline(nodes)
    assert result[A] == {"inputs": f"Cycle detected: {A} -> {B} -> {C} -> {A}"}
    assert result[B] == {
        "segments": f"references non-existent nodes: {GHOST}",
        "inputs": f"Cycle detected: {B} -> {C} -> {A} -> {B}",
    }
    assert result[C] == {"inputs": f"Cycle detected: {C} -> {A} -> {B} -> {C}"}


def uid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def test_dense_component_names_a_cycle_through_every_node() -> None:
    ids = [uid(i) for i in range(5)]
    nodes = [NodeDraft(i, "merge-videos", {"segments": [j for j in ids if j != i]}, FF)
             for i in ids]
    result = validate_pipeline(nodes)
    for node_id in ids:
        message = result[node_id]["inputs"]
        assert message.startswith(f"Cycle detected: {node_id} -> ")
        assert message.endswith(f" -> {node_id}")


def test_long_chain_is_valid_and_fast() -> None:
    ids = [uid(i) for i in range(10_000)]
    nodes = [voice(ids[0])] + [voice(ids[i], ids[i - 1]) for i in range(1, len(ids))]
    started = time.perf_counter()
    result = validate_pipeline(nodes)
    assert time.perf_counter() - started < 5
    assert all(errs == {} for errs in result.values())
    assert len(result) == 10_000


def test_long_ring_gets_short_messages() -> None:
    ids = [uid(i) for i in range(10_000)]
    result = validate_pipeline([voice(ids[i], ids[i - 1]) for i in range(len(ids))])
    message = result[ids[5]]["inputs"]
    assert message == (
        "Cycle detected: "
        + " -> ".join([ids[5], *[ids[(5 - k) % 10_000] for k in range(1, 12)]])
        + f" -> ... (10000 nodes) -> {ids[5]}"
    )
    assert all("inputs" in errs for errs in result.values())


# Arbitrary JSON, plus shapes close to real nodes so the deeper branches are reached.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
IDS = st.sampled_from([A, B, C, ME, GHOST, "x", ""])
TYPES = st.sampled_from([*NODE_TYPES, "talking-head"]) | JSON
SLOT_VALUE = IDS | st.lists(IDS | JSON, max_size=4) | JSON
INPUTS = st.dictionaries(
    st.sampled_from(["audio", "background", "segments", "video", "overlay", "config", "zz"]),
    SLOT_VALUE,
) | JSON
CONFIG = st.dictionaries(
    st.sampled_from(["provider", "avatarId", "width", "rounded", "stability", "cropTop"]),
    st.sampled_from(["heygen", "ffmpeg", "builtin"]) | JSON,
) | JSON


def assert_flat(errs: Any) -> None:
    assert isinstance(errs, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in errs.items())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(IDS, TYPES, INPUTS, CONFIG), max_size=5))
def test_validation_never_raises(raw: list[tuple[str, Any, Any, Any]]) -> None:
    nodes = [NodeDraft(*node) for node in raw]
    for node in nodes:
        assert_flat(validate_node(node, PIPELINE_IDS))
        refs = referenced_ids(node.type, node.inputs)
        assert isinstance(refs, tuple)
        assert all(isinstance(r, str) for r in refs)
        assert len(set(refs)) == len(refs)
        assert isinstance(provider_of(node.type, node.config), str | None)
    result = validate_pipeline(nodes)
    assert set(result) == {node.id for node in nodes}
    for errs in result.values():
        assert_flat(errs)
