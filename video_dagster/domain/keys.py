"""Object-store key layout and asset naming (pure)."""

from __future__ import annotations

import re

ASSET_KEY_PREFIX = "video"
CALLBACK_PREFIX = "callbacks/"

# Run tags: which trigger started a run, and an explicit re-execution switch (README).
TRIGGER_TAG = "video/trigger"
TRIGGER_AUTO = "auto"
FORCE_TAG = "video/force"


def node_output_key(pipeline_id: str, node_id: str, name: str) -> str:
    """`pipelines/<pipeline_id>/nodes/<node_id>/<name>`."""
    return f"pipelines/{pipeline_id}/nodes/{node_id}/{name}"


def callback_key(node_id: str, process_uuid: str) -> str:
    """Where a Lambda writes its completion report for one execution."""
    return f"{CALLBACK_PREFIX}{node_id}/{process_uuid}.json"


# The asset key's last component is what Dagster draws on every graph card (middle-truncated
# beyond ~18 characters), so it is short and says what the node does: `<kind>_<id8>`, the 8
# characters being the short id the CLI prints and accepts. The full node id is the component
# before it, so keys stay unique without looking at other nodes and parse back to their node.
# Keys are *stable*: built only from the ids and the type, which never change, so a node's
# history and status survive any rename; the title is the asset's description.
# (docs/OPERATING.md, "Asset keys".)
_KIND_BY_TYPE = {
    "asset": "asset",
    "generate-voiceover": "voiceover",
    "generate-talking-head": "avatar",
    "talking-head": "avatar",
    "generate-animation": "animation",
    "render-code": "code",
    "mix-audio": "mix_audio",
    "merge-videos": "merge",
    "compose-video": "compose",
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# Bumped whenever asset_key_path changes, so state keyed by it (the node-checks sensor's cursor)
# is rebuilt for the new keys.
KEY_LAYOUT = "2"


def node_kind(node_type: str) -> str:
    """A short readable name for a node type (`merge`, `voiceover`); unknown types slugged."""
    known = _KIND_BY_TYPE.get(node_type)
    if known:
        return known
    return re.sub(r"[^a-z0-9]+", "_", node_type.lower()).strip("_")[:9].strip("_") or "node"


def asset_key_path(pipeline_id: str, node_id: str, node_type: str) -> list[str]:
    """Asset key `video/<pipeline_id>/<node_id>/<kind>_<id8>` as a path."""
    return [ASSET_KEY_PREFIX, pipeline_id, node_id, f"{node_kind(node_type)}_{node_id[:8]}"]


def node_id_of_key(path: list[str] | tuple[str, ...]) -> str | None:
    """The node id inside a node asset key path; None for any other key."""
    if len(path) != 4 or path[0] != ASSET_KEY_PREFIX or not _UUID.match(path[2]):
        return None
    return path[2]


def step_name(node_id: str, node_type: str) -> str:
    """The op (step) name of a node: `<kind>_<id without dashes>`, readable first, unique."""
    return f"{node_kind(node_type)}_{node_id.replace('-', '')}"


def group_name(pipeline_title: str, pipeline_id: str) -> str:
    """A readable, unique group name matching `^[A-Za-z0-9_]+$`."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", pipeline_title).strip("_").lower()[:40] or "pipeline"
    return f"{slug}_{pipeline_id.replace('-', '')[:8]}"
