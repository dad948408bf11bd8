"""FFmpeg work on Lambda: build the event, invoke asynchronously, wait for the callback."""

from __future__ import annotations

from abc import abstractmethod
from datetime import timedelta
from typing import Any

from video_dagster.assets.executors.base import (
    ExecutionContext,
    ExecutionFailed,
    Executor,
    InputNode,
    Submitted,
)
from video_dagster.domain.keys import callback_key
from video_dagster.resources.lambda_invoker import LambdaInvocationError
from video_dagster.resources.object_store import S3ObjectStore


def slot_refs(ctx: ExecutionContext, slot: str) -> list[str]:
    """The node ids a slot references, in order (both single-slot shapes)."""
    value = ctx.node.inputs.get(slot) if isinstance(ctx.node.inputs, dict) else None
    refs = value if isinstance(value, list) else [value] if value is not None else []
    return [r for r in refs if isinstance(r, str)]


def input_uri(ctx: ExecutionContext, node_id: str, kinds: tuple[str, ...]) -> str:
    """The stored object an input node produced; a clear failure when there is none."""
    found: InputNode | None = next(
        (n for nodes in ctx.slots.values() for n in nodes if n.id == node_id), None
    )
    output = found.output if found else None
    if not output or not (output.get("s3Key") or output.get("uri")):
        raise ExecutionFailed(f"Input node {node_id} has no output", "InputNotFound")
    kind = output.get("type")
    if kinds and kind not in kinds:
        raise ExecutionFailed(
            f"Input node {node_id} produced {kind or 'an untyped output'}, "
            f"expected {' or '.join(kinds)}",
            "InvalidInput",
        )
    key = output.get("s3Key")
    return ctx.store.uri(key) if isinstance(key, str) and key else str(output["uri"])


class LambdaMediaExecutor(Executor):
    """Base for executors whose work runs in one of our Lambdas."""

    function_name: str
    output_name: str = "output.mp4"

    @abstractmethod
    def build_event(self, ctx: ExecutionContext) -> dict[str, Any]:
        """Function-specific event fields."""

    def run(self, ctx: ExecutionContext) -> Submitted:
        fields = self.build_event(ctx)
        cb_key = callback_key(ctx.node.id, ctx.process_uuid)
        event: dict[str, Any] = {
            "node_uuid": ctx.node.id,
            "executor_type": ctx.node.type,
            "process_uuid": ctx.process_uuid,
            "output_uri": ctx.store.uri(ctx.output_key(self.output_name)),
            "callback_uri": ctx.store.uri(cb_key),
            **fields,
        }
        if isinstance(ctx.store, S3ObjectStore) and ctx.store.client.meta.endpoint_url:
            endpoint = ctx.store.client.meta.endpoint_url
            if "amazonaws.com" not in endpoint:
                event["s3_endpoint_url"] = endpoint
        try:
            receipt = ctx.invoker.invoke_async(self.function_name, event)
        except LambdaInvocationError as exc:
            raise ExecutionFailed(str(exc), "LambdaInvocationError") from exc
        ctx.log.info(f"submitted {self.function_name} ({receipt.mode}, request "
                     f"{receipt.request_id}); waiting for {cb_key}")
        return Submitted(cb_key, {"job_id": receipt.request_id, "lambda": self.function_name})


class MergeVideosExecutor(LambdaMediaExecutor):
    """merge-videos: concatenate the segments, in order, on the video_merger Lambda."""

    function_name = "video_merger"
    timeout = timedelta(minutes=20)

    def build_event(self, ctx: ExecutionContext) -> dict[str, Any]:
        refs = slot_refs(ctx, "segments")
        if len(refs) < 2:
            raise ExecutionFailed(
                f"merge-videos needs at least 2 segments, got {len(refs)}", "InvalidInput"
            )
        return {"input_videos": [input_uri(ctx, r, ("video",)) for r in refs]}
