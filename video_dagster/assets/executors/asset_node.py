"""The `asset` node: check a stored source exists, or store inline content, then complete."""

from __future__ import annotations

import json
import mimetypes
from datetime import timedelta
from typing import Any

from video_dagster.assets.executors.base import (
    Completed,
    ExecutionContext,
    ExecutionFailed,
    Executor,
)
from video_dagster.resources.object_store import ObjectStoreError

# The same rule as assets/inputs.py (which imports this package, so it is not imported here).
INTERNAL_PREFIXES = ("callbacks/", "quarantine/", "aws/lambda/async/")

_KINDS = ("video", "audio", "image", "text")


def _kind(asset: dict[str, Any], key: str | None) -> str:
    declared = asset.get("type")
    if declared in _KINDS:
        return str(declared)
    guessed = mimetypes.guess_type(key or "")[0] or ""
    return next((k for k in _KINDS if guessed.startswith(k)), "text" if not key else "video")


class AssetExecutor(Executor):
    """Completes with `{type, s3Key, uri, size}` so downstream nodes can run."""

    timeout = timedelta(minutes=5)

    def run(self, ctx: ExecutionContext) -> Completed:
        asset = ctx.node.asset
        if not isinstance(asset, dict):
            raise ExecutionFailed("asset node has no source: set asset.s3Key, asset.uri or "
                                  "asset.content", "InvalidInput")
        if "content" in asset and asset["content"] is not None:
            return self._store_inline(ctx, asset)
        key = asset.get("s3Key")
        if not key and isinstance(asset.get("uri"), str):
            try:
                key = ctx.store.key_from_uri(asset["uri"])
            except ValueError as exc:
                raise ExecutionFailed(str(exc), "InvalidInput") from exc
        if not isinstance(key, str) or not key:
            raise ExecutionFailed("asset node has no source: set asset.s3Key, asset.uri or "
                                  "asset.content", "InvalidInput")
        if key.startswith(INTERNAL_PREFIXES):  # ours, not media (see inputs.py)
            raise ExecutionFailed(f"asset source {key[:200]!r} is not a media object",
                                  "InvalidInput")
        try:
            info = ctx.store.stat(key)
        except (ObjectStoreError, ValueError) as exc:
            raise ExecutionFailed(
                f"cannot read asset source {key}: {exc}", "InputNotFound"
            ) from exc
        if info is None:
            raise ExecutionFailed(f"asset source {ctx.store.uri(key)} does not exist",
                                  "InputNotFound")
        return Completed({"type": _kind(asset, key), "s3Key": key, "uri": ctx.store.uri(key),
                          "size": info.size})

    def _store_inline(self, ctx: ExecutionContext, asset: dict[str, Any]) -> Completed:
        content = asset["content"]
        if isinstance(content, str):
            data, name = content.encode(), "content.txt"
            content_type = str(asset.get("contentType") or "text/plain")
        else:
            data, name = json.dumps(content, sort_keys=True).encode(), "content.json"
            content_type = "application/json"
        key = ctx.output_key(name)
        ctx.store.put_bytes(key, data, content_type=content_type)
        return Completed({"type": _kind(asset, None), "s3Key": key, "uri": ctx.store.uri(key),
                          "size": len(data), "contentType": content_type})
