"""Frozen records of the pipeline graph skeleton, read once per code-location load."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class NodeSkeleton:
    """What the asset graph needs to know about one node (no config values, no secrets)."""

    id: str
    pipeline_id: str
    title: str
    type: str
    provider: str | None
    input_ids: tuple[str, ...]
    """Ids of the nodes this node reads, in slot order, deduplicated (both single-slot shapes)."""


@dataclass(frozen=True)
class PipelineSkeleton:
    """One pipeline and its nodes, ordered by node id."""

    id: str
    title: str
    nodes: tuple[NodeSkeleton, ...]


@dataclass(frozen=True)
class GraphSnapshot:
    """Every pipeline in the database, ordered by pipeline id, with its structure fingerprint."""

    pipelines: tuple[PipelineSkeleton, ...]

    # Both are computed once per instance (the instance is frozen, so they cannot go stale):
    # a code-server load needs the JSON for the stored state and again for the fingerprint.
    # cached_property writes to the instance __dict__, which the frozen dataclass allows; the
    # cached values are not fields, so equality and hashing are unchanged.

    @cached_property
    def fingerprint(self) -> str:
        """A stable hash of everything the asset graph is built from."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """Serialize deterministically (sorted keys, no whitespace)."""
        return self._json

    @cached_property
    def _json(self) -> str:
        # Byte-for-byte what `json.dumps(dataclasses.asdict(self), ...)` produced (the fingerprint
        # must not change across versions), built by hand: asdict deep-copies every field
        # recursively and was ~4x slower. A new NodeSkeleton field must be added here too
        # (tests/dagster/test_loader.py compares against asdict).
        raw = {
            "pipelines": [
                {
                    "id": pipeline.id,
                    "title": pipeline.title,
                    "nodes": [
                        {
                            "id": node.id,
                            "pipeline_id": node.pipeline_id,
                            "title": node.title,
                            "type": node.type,
                            "provider": node.provider,
                            "input_ids": node.input_ids,
                        }
                        for node in pipeline.nodes
                    ],
                }
                for pipeline in self.pipelines
            ]
        }
        return json.dumps(raw, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GraphSnapshot:
        """Inverse of to_json."""
        raw: dict[str, Any] = json.loads(text)
        return cls(
            pipelines=tuple(
                PipelineSkeleton(
                    id=p["id"],
                    title=p["title"],
                    nodes=tuple(
                        NodeSkeleton(
                            id=n["id"],
                            pipeline_id=n["pipeline_id"],
                            title=n["title"],
                            type=n["type"],
                            provider=n["provider"],
                            input_ids=tuple(n["input_ids"]),
                        )
                        for n in p["nodes"]
                    ),
                )
                for p in raw["pipelines"]
            )
        )
