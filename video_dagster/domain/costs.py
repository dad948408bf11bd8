"""Estimated cost per node (USD), used for the pipeline's estimatedTotalCost."""

from __future__ import annotations

from typing import Any

# List prices per typical call, rounded; real costs come back from executors as metadata.cost.
_BASE: dict[str, float] = {
    "asset": 0.0,
    "generate-talking-head": 1.0,
    "talking-head": 1.0,
    "generate-voiceover": 0.05,
    "generate-animation": 0.5,
    "render-code": 0.01,
    "mix-audio": 0.002,
    "merge-videos": 0.002,
    "compose-video": 0.002,
}
_ANIMATION: dict[str, float] = {"veo3": 0.75, "runway": 0.5, "stability": 0.2}


def estimate(node_type: Any, config: Any) -> float:
    """A rough per-execution estimate; unknown types cost nothing. Never raises."""
    if not isinstance(node_type, str):
        return 0.0
    provider = config.get("provider") if isinstance(config, dict) else None
    if node_type == "generate-animation" and isinstance(provider, str):
        return _ANIMATION.get(provider, _BASE[node_type])
    return _BASE.get(node_type, 0.0)
