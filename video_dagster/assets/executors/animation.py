"""generate-animation on Veo 3.1 (Gemini API or Vertex) or Runway: prompt (+ first frame) → clip.

Durations a model cannot make are mapped to the nearest one it can (ties go up) and the mapping
is recorded in `metadata.duration` — validation accepts any whole number of seconds.
"""

from __future__ import annotations

import base64
import mimetypes
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from dagster._utils.interrupts import capture_interrupts

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
    input_text,
    job_record,
    live_job,
    probe,
    slot_input,
    typed_config,
)
from video_dagster.domain import costs
from video_dagster.domain.configs import AnimationConfig
from video_dagster.resources.providers import runway, veo
from video_dagster.resources.providers.base import PollPolicy, ProviderError

DEFAULT_MODELS = {"gemini": "veo-3.1-generate-preview", "vertex": "veo-3.1-generate-001",
                  "runway": "gen4.5"}
INLINE_IMAGE_LIMIT = {"gemini": 20 << 20, "vertex": 20 << 20, "runway": 5 << 20}


@dataclass(frozen=True)
class Plan:
    """One animation request, fully decided before anything is sent."""

    config: AnimationConfig
    backend: str
    model: str
    requested: int
    seconds: int
    prompt: str
    image_key: str | None
    fingerprint: str


def _plan(ctx: ExecutionContext) -> Plan:
    config = typed_config(ctx, AnimationConfig)
    if config.provider == "stability":
        raise ExecutionFailed("generate-animation provider `stability` is not supported (no "
                              "live, documented Stability AI video API); set provider to veo3 "
                              "or runway", "UnsupportedProvider")
    backend = "runway" if config.provider == "runway" else config.backend or "gemini"
    model = config.model or DEFAULT_MODELS[backend]
    allowed = (runway.DURATIONS.get(model, tuple(range(2, 11))) if backend == "runway"
               else veo.DURATIONS)
    source = slot_input(ctx, "prompt")
    prompt = (input_text(ctx, source) if source else config.prompt or "").strip()
    if not prompt:
        raise ExecutionFailed("generate-animation needs a prompt: connect a `prompt` input or "
                              "set config.prompt", "InvalidInput")
    if config.style:
        prompt = f"{prompt}. Style: {config.style}."
    image = slot_input(ctx, "referenceImage")
    image_key = input_key(ctx, image, ("image",)) if image else None
    info = ctx.store.stat(image_key) if image_key else None
    seconds = costs.nearest_duration(config.duration, allowed)
    fp = fingerprint(backend, model, seconds, prompt, config.model_dump(), image_key,
                     (info.size, info.etag) if info else None)
    return Plan(config, backend, model, config.duration, seconds, prompt, image_key, fp)


def _image_bytes(ctx: ExecutionContext, plan: Plan) -> tuple[bytes, str] | None:
    if plan.image_key is None:
        return None
    info = ctx.store.stat(plan.image_key)
    limit = INLINE_IMAGE_LIMIT[plan.backend]
    if info is None or info.size > limit:
        raise ExecutionFailed(f"reference image {plan.image_key} is missing or over the "
                              f"{limit >> 20} MB {plan.backend} limit", "InvalidInput")
    mime = mimetypes.guess_type(plan.image_key)[0] or "image/png"
    return ctx.store.get_bytes(plan.image_key), mime


class AnimationExecutor(Executor):
    """Output `{type: video, s3Key, uri, duration, size, width, height}`."""

    timeout = timedelta(minutes=30)

    def run(self, ctx: ExecutionContext) -> Polling:
        plan = _plan(ctx)
        mapping = {"duration": {"requested": plan.requested, "used": plan.seconds,
                                "model": plan.model}}
        resumed = live_job(ctx, plan.backend, plan.fingerprint)
        if resumed is not None:
            ctx.log.info(f"resuming {plan.backend} job {resumed}; not resubmitted")
            return Polling(resumed, "resumed", mapping)
        try:
            job_id = self._submit(ctx, plan)
        except ProviderError as exc:
            if exc.status == 404:
                raise ExecutionFailed(
                    f"model {plan.model} is not available on {plan.backend} (retired or "
                    f"unknown: {exc.message}); set config.model to a current id",
                    "ModelNotFound") from None
            raise
        ctx.log.info(f"{plan.backend} job {job_id} submitted ({plan.model}, {plan.seconds}s)")
        return Polling(job_id, "submitted",
                       {**mapping, **job_record(plan.backend, job_id, plan.fingerprint,
                                                "running")})

    def _submit(self, ctx: ExecutionContext, plan: Plan) -> str:
        image = _image_bytes(ctx, plan)
        c = plan.config
        if plan.backend == "runway":
            ratio = runway.ratio_for(plan.model, c.aspect_ratio, image is not None)
            if ratio is None:  # refused here, before anything is paid for
                raise ExecutionFailed(f"Runway {plan.model} cannot make aspectRatio "
                                      f"{c.aspect_ratio}; use 16:9 or 9:16", "InvalidConfig")
            body: dict[str, Any] = {"model": plan.model, "ratio": ratio,
                                    "promptText": runway.prompt_text(plan.prompt),
                                    "duration": plan.seconds}
            if image:
                body["promptImage"] = (f"data:{image[1]};base64,"
                                       f"{base64.b64encode(image[0]).decode()}")
            if c.seed is not None:
                body["seed"] = c.seed
            return str(ctx.providers.runway.submit(body))
        if c.aspect_ratio not in veo.ASPECT_RATIOS:
            raise ExecutionFailed(f"Veo cannot make aspectRatio {c.aspect_ratio}; use "
                                  f"{' or '.join(veo.ASPECT_RATIOS)}", "InvalidConfig")
        instance: dict[str, Any] = {"prompt": plan.prompt}
        if image:
            instance["image"] = veo.image_part(*image)
        params: dict[str, Any] = {"aspectRatio": c.aspect_ratio, "durationSeconds": plan.seconds,
                                  "resolution": c.resolution, "sampleCount": 1}
        if c.negative_prompt:
            params["negativePrompt"] = c.negative_prompt
        if plan.backend == "vertex":  # the Gemini API refuses these
            if c.seed is not None:
                params["seed"] = c.seed
            if c.generate_audio is not None:
                params["generateAudio"] = c.generate_audio
        client = ctx.providers.vertex if plan.backend == "vertex" else ctx.providers.gemini
        return str(client.submit(plan.model, instance, params))

    def poll_policy(self, ctx: ExecutionContext) -> PollPolicy:
        plan = _plan(ctx)
        policy: PollPolicy = ctx.providers.poll("runway" if plan.backend == "runway" else "veo")
        return policy

    def cancel(self, ctx: ExecutionContext, job: Polling) -> None:
        """Cancel a Runway task when the run is terminated (Veo operations cannot be)."""
        plan = _plan(ctx)
        if plan.backend != "runway":
            return
        with capture_interrupts():
            ctx.providers.runway.cancel(job.job_id)
            ctx.lifecycle.updated(ctx.node.id, job_record(plan.backend, job.job_id,
                                                          plan.fingerprint, "cancelled"),
                                  ctx.process_uuid)

    def poll(self, ctx: ExecutionContext, job: Polling) -> Completed | Progress:
        plan = _plan(ctx)
        with tempfile.TemporaryDirectory(prefix="vd-anim-") as tmp:
            local = Path(tmp) / "animation.mp4"
            if plan.backend == "runway":
                seen = self._poll_runway(ctx, plan, job, local)
            else:
                seen = self._poll_veo(ctx, plan, job, local)
            if isinstance(seen, Progress):
                return seen
            media = probe(local)
            key = ctx.output_key("animation.mp4")
            ctx.store.put_file(key, local, content_type="video/mp4")
            size = local.stat().st_size
        cost = (costs.runway_cost(media.duration, plan.model, audio=False)
                if plan.backend == "runway" else costs.veo_cost(
                    media.duration, plan.model, plan.config.resolution,
                    plan.backend == "gemini" or plan.config.generate_audio is not False))
        ctx.lifecycle.updated(ctx.node.id, {
            "costDetail": cost.as_metadata(),
            **job_record(plan.backend, job.job_id, plan.fingerprint, "completed")},
            ctx.process_uuid)
        return Completed({"type": "video", "s3Key": key, "uri": ctx.store.uri(key),
                          "duration": media.duration, "size": size, "width": media.width,
                          "height": media.height}, cost=cost.amount)

    def _failed(self, ctx: ExecutionContext, plan: Plan, job: Polling, message: str,
                error_type: str) -> ExecutionFailed:
        ctx.lifecycle.updated(ctx.node.id, job_record(plan.backend, job.job_id,
                                                      plan.fingerprint, "failed"),
                              ctx.process_uuid)
        return ExecutionFailed(message, error_type)

    def _poll_veo(self, ctx: ExecutionContext, plan: Plan, job: Polling, dest: Path
                  ) -> Progress | None:
        client = ctx.providers.vertex if plan.backend == "vertex" else ctx.providers.gemini
        op: veo.Operation = client.get(job.job_id)
        if not op.done:
            return Progress("generating")
        if op.error:
            raise self._failed(ctx, plan, job, f"Veo operation failed: {op.error}",
                               "ProviderJobFailed")
        if op.uris:
            client.download(op.uris[0], dest)
        elif op.inline:
            dest.write_bytes(op.inline[0])
        elif op.rai_filtered or not op.gcs_uris:
            reasons = "; ".join(op.rai_reasons) or "no reason given"
            raise self._failed(ctx, plan, job, f"Veo filtered the video for safety ({reasons});"
                               " change the prompt or reference image", "SafetyFiltered")
        else:
            raise self._failed(ctx, plan, job, f"Veo wrote the video to {op.gcs_uris[0]}, which"
                               " is not our store; leave storageUri unset", "BadProviderOutput")
        return None

    def _poll_runway(self, ctx: ExecutionContext, plan: Plan, job: Polling, dest: Path
                     ) -> Progress | None:
        client: runway.RunwayClient = ctx.providers.runway
        task = client.get(job.job_id)
        if task.state in ("queued", "running"):
            return Progress(task.status.lower(), task.progress)
        if task.status == "CANCELLED":
            raise self._failed(ctx, plan, job, f"Runway task {task.id} was cancelled",
                               "Cancelled")
        if task.state == "failed":
            code = task.failure_code or ""
            if code.startswith("SAFETY.INPUT"):
                raise self._failed(ctx, plan, job, f"Runway rejected the input ({code}: "
                                   f"{task.failure}); change the prompt or image — not retried",
                                   "SafetyFiltered")
            if code.startswith("SAFETY.OUTPUT"):
                raise self._failed(ctx, plan, job, f"Runway filtered the output ({code}); "
                                   "change the prompt and re-run", "SafetyFiltered")
            raise self._failed(ctx, plan, job, f"Runway task failed: {task.failure} ({code})",
                               "ProviderJobFailed")
        client.download(task, dest)
        return None
