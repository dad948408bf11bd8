"""generate-talking-head on HeyGen v3: upload the voiceover, submit, poll, download, probe."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from video_dagster.assets.executors.base import (
    Completed,
    ExecutionContext,
    ExecutionFailed,
    Executor,
    Polling,
    Progress,
)
from video_dagster.assets.executors.provider_common import (
    fingerprint,
    input_key,
    job_record,
    live_job,
    probe,
    slot_input,
    submit_key,
    typed_config,
)
from video_dagster.domain import costs
from video_dagster.domain.configs import TalkingHeadConfig
from video_dagster.resources.providers.base import PollPolicy, ProviderError
from video_dagster.resources.providers.heygen import HeyGenClient, resolution_for

PROVIDER = "heygen"


def _client(ctx: ExecutionContext) -> HeyGenClient:
    if ctx.providers is None:
        raise ExecutionFailed("no `providers` resource is configured", "NoProvider")
    client: HeyGenClient = ctx.providers.heygen
    return client


def _fetch(ctx: ExecutionContext, key: str, folder: Path) -> Path:
    path = folder / Path(key).name
    ctx.store.get_to_file(key, path)
    return path


class TalkingHeadExecutor(Executor):
    """Output `{type: video, s3Key, uri, duration, size, width, height}`."""

    timeout = timedelta(minutes=40)

    def _request(self, ctx: ExecutionContext) -> tuple[TalkingHeadConfig, str, str | None, str]:
        config = typed_config(ctx, TalkingHeadConfig)
        audio = slot_input(ctx, "audio")
        if audio is None:
            raise ExecutionFailed("generate-talking-head needs an `audio` input",
                                  "InvalidInput")
        audio_key = input_key(ctx, audio, ("audio",))
        background = slot_input(ctx, "background")
        bg_key = input_key(ctx, background, ("image",)) if background else None
        info = ctx.store.stat(audio_key)
        # The audio object's identity (etag, time), so a re-made voiceover is a new request.
        fp = fingerprint(config.model_dump(exclude={"test"}), audio_key,
                         (info.size, info.etag, info.last_modified) if info else None, bg_key)
        return config, audio_key, bg_key, fp

    def run(self, ctx: ExecutionContext) -> Polling:
        config, audio_key, bg_key, fp = self._request(ctx)
        client = _client(ctx)
        live = live_job(ctx, PROVIDER, fp)
        if live is not None:
            resumed = self._resume(ctx, client, live)
            if resumed is not None:
                return resumed
        resolution, aspect = resolution_for(config.width, config.height)
        payload: dict[str, Any] = {"type": "avatar", "avatar_id": config.avatar_id,
                                   "resolution": resolution, "aspect_ratio": aspect}
        with tempfile.TemporaryDirectory(prefix="vd-heygen-") as tmp:
            payload["audio_asset_id"] = client.upload_asset(
                _fetch(ctx, audio_key, Path(tmp)), fingerprint(ctx.node.id, fp, "audio"))
            if bg_key:
                payload["background"] = {"type": "image", "asset_id": client.upload_asset(
                    _fetch(ctx, bg_key, Path(tmp)), fingerprint(ctx.node.id, fp, "bg"))}
            elif config.background:
                payload["background"] = {"type": "color", "value": config.background}
        video_id = client.create_video(payload, submit_key(ctx, fp))
        ctx.log.info(f"HeyGen video {video_id} submitted ({resolution} {aspect})")
        return Polling(video_id, "submitted", job_record(PROVIDER, video_id, fp, "running"))

    def _resume(self, ctx: ExecutionContext, client: HeyGenClient, video_id: str
                ) -> Polling | None:
        try:
            status = client.get_video(video_id)
        except ProviderError as exc:
            if exc.status == 404:
                return None
            raise
        if status.state == "failed":
            return None
        ctx.log.info(f"resuming HeyGen video {video_id} ({status.raw_status}); not resubmitted")
        return Polling(video_id, f"resumed ({status.raw_status})")

    def poll_policy(self, ctx: ExecutionContext) -> PollPolicy:
        policy: PollPolicy = ctx.providers.heygen_poll
        return policy

    def poll(self, ctx: ExecutionContext, job: Polling) -> Completed | Progress:
        client = _client(ctx)
        status = client.get_video(job.job_id)
        if status.state in ("queued", "running"):
            return Progress(status.raw_status)
        fp = self._request(ctx)[3]
        if status.state == "failed":
            ctx.lifecycle.updated(ctx.node.id, job_record(PROVIDER, job.job_id, fp, "failed"),
                                  ctx.process_uuid)
            raise ExecutionFailed(f"HeyGen could not render video {job.job_id}: "
                                  f"{status.failure or 'no reason given'}", "ProviderJobFailed")
        with tempfile.TemporaryDirectory(prefix="vd-heygen-") as tmp:
            local = Path(tmp) / "talking_head.mp4"
            size = client.download(status, local)
            seen = probe(local)
            if not seen.width or seen.duration <= 0:
                raise ExecutionFailed(f"HeyGen video {job.job_id} has no video stream",
                                      "BadProviderOutput")
            key = ctx.output_key("talking_head.mp4")
            ctx.store.put_file(key, local, content_type="video/mp4")
        # HeyGen's billed duration, unless it is implausible next to the file we received (a
        # buggy or tampered response must not put an absurd figure in the pipeline's cost).
        billed = (status.duration if status.duration and status.duration <= 2 * seen.duration
                  + 5 else seen.duration)
        cost = costs.heygen_cost(billed)
        ctx.lifecycle.updated(ctx.node.id, {"costDetail": cost.as_metadata(),
                                            **job_record(PROVIDER, job.job_id, fp, "completed")},
                              ctx.process_uuid)
        return Completed({"type": "video", "s3Key": key, "uri": ctx.store.uri(key),
                          "duration": seen.duration, "size": size, "width": seen.width,
                          "height": seen.height}, cost=cost.amount)
