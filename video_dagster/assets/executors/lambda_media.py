"""FFmpeg work on Lambda: build the event, invoke asynchronously, wait for the callback."""

from __future__ import annotations

from abc import abstractmethod
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
from video_dagster.resources.lambda_functions import FUNCTIONS, estimate
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
    timeout = FUNCTIONS["video_merger"].deadline

    def build_event(self, ctx: ExecutionContext) -> dict[str, Any]:
        refs = inputs.slot_refs(ctx, "segments")
        if len(refs) < 2:
            raise ExecutionFailed(
                f"merge-videos needs at least 2 segments, got {len(refs)}", "InvalidInput"
            )
        config = ctx.node.config if isinstance(ctx.node.config, dict) else {}
        transition = config.get("transition", "none")
        if transition not in ("none", "fade", "crossfade"):
            raise ExecutionFailed(f"config.transition must be none, fade or crossfade, got "
                                  f"{transition!r}", "InvalidConfig")
        uris = [inputs.input_uri(ctx, r, ("video",)) for r in refs]
        event: dict[str, Any] = {"input_videos": uris}
        if transition != "none":
            duration = config.get("transitionDuration", 0.5)
            if isinstance(duration, bool) or not isinstance(duration, int | float) or not (
                    0.04 <= duration <= 10):
                raise ExecutionFailed("config.transitionDuration must be a number of seconds "
                                      f"between 0.04 and 10, got {duration!r}", "InvalidConfig")
            event.update(transition=transition, transition_duration=float(duration))
        return event

    def estimate(self, config: Any, produced: list[dict[str, Any]]) -> float:
        """USD: stream copy is quick; a transition re-encodes every second of the inputs."""
        known = [float(o["duration"]) for o in produced
                 if isinstance(o.get("duration"), int | float)]
        return estimate("merge-videos", config if isinstance(config, dict) else {},
                        sum(known) if known else None)
