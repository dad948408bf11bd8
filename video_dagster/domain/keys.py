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


def asset_key_path(pipeline_id: str, node_id: str) -> list[str]:
    """Asset key `video/<pipeline_id>/<node_id>` as a path."""
    return [ASSET_KEY_PREFIX, pipeline_id, node_id]


def group_name(pipeline_title: str, pipeline_id: str) -> str:
    """A readable, unique group name matching `^[A-Za-z0-9_]+$`."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", pipeline_title).strip("_").lower()[:40] or "pipeline"
    return f"{slug}_{pipeline_id.replace('-', '')[:8]}"
