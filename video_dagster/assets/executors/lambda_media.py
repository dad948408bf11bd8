"""FFmpeg work on Lambda: build the event, invoke asynchronously, wait for the callback."""

from __future__ import annotations

from abc import abstractmethod
from datetime import timedelta
from typing import Any

# A module import, used at call time: inputs.py imports this package's base module.
from video_dagster.assets import inputs
from video_dagster.assets.executors.base import (
    ExecutionContext,
    ExecutionFailed,
    Executor,
    Submitted,
)
from video_dagster.domain.keys import callback_key
from video_dagster.resources.lambda_invoker import LambdaInvocationError
from video_dagster.resources.object_store import S3ObjectStore


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
        refs = inputs.slot_refs(ctx, "segments")
        if len(refs) < 2:
            raise ExecutionFailed(
                f"merge-videos needs at least 2 segments, got {len(refs)}", "InvalidInput"
            )
        return {"input_videos": [inputs.input_uri(ctx, r, ("video",)) for r in refs]}
