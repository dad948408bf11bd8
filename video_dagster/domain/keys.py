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


# The asset key's last component is what Dagster draws on every card and in every list, so it
# starts with what the node does: `<kind>_<node_id>`. Keys are *stable*: built only from the node
# id and its type, which never change, so a node's history and status survive any rename (the
# title is the asset's description, drawn under the name). The full id keeps keys unique without
# looking at other nodes, lets a key be parsed back to its node, and its first 8 characters are
# the short ids the CLI prints and accepts. (docs/OPERATING.md, "Asset keys".)
_KIND_BY_TYPE = {
    "asset": "asset",
    "generate-voiceover": "voiceover",
    "generate-talking-head": "talking_head",
    "talking-head": "talking_head",
    "generate-animation": "animation",
    "render-code": "code_screen",
    "mix-audio": "mix_audio",
    "merge-videos": "merge",
    "compose-video": "compose",
}
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_NODE_COMPONENT = re.compile(rf"^[a-z0-9_]+_({_UUID})$")


def node_kind(node_type: str) -> str:
    """A short readable name for a node type (`merge`, `voiceover`); unknown types slugged."""
    known = _KIND_BY_TYPE.get(node_type)
    if known:
        return known
    return re.sub(r"[^a-z0-9]+", "_", node_type.lower()).strip("_")[:24] or "node"


def asset_key_path(pipeline_id: str, node_id: str, node_type: str) -> list[str]:
    """Asset key `video/<pipeline_id>/<kind>_<node_id>` as a path."""
    return [ASSET_KEY_PREFIX, pipeline_id, f"{node_kind(node_type)}_{node_id}"]


def node_id_of_key(path: list[str] | tuple[str, ...]) -> str | None:
    """The node id inside a node asset key path; None for any other key."""
    if len(path) != 3 or path[0] != ASSET_KEY_PREFIX:
        return None
    match = _NODE_COMPONENT.match(path[2])
    return match.group(1) if match else None


def group_name(pipeline_title: str, pipeline_id: str) -> str:
    """A readable, unique group name matching `^[A-Za-z0-9_]+$`."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", pipeline_title).strip("_").lower()[:40] or "pipeline"
    return f"{slug}_{pipeline_id.replace('-', '')[:8]}"
