"""What the provider executors share: typed config, input text/objects, probing, fingerprints."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from video_dagster.assets import inputs
from video_dagster.assets.executors.base import ExecutionContext, ExecutionFailed, InputNode
from video_dagster.domain.configs import ConfigError, NodeConfig
from video_dagster.domain.nodes import parse_config

C = TypeVar("C", bound=NodeConfig)


def typed_config(ctx: ExecutionContext, model: type[C]) -> C:
    """The node's config parsed into its type's model; a clear failure when it does not parse."""
    try:
        parsed = parse_config(ctx.node.type, ctx.node.config)
    except ConfigError as exc:
        raise ExecutionFailed(str(exc), "InvalidConfig") from None
    if not isinstance(parsed, model):
        raise ExecutionFailed(f"{ctx.node.type} has no {model.__name__}", "InvalidConfig")
    return parsed


def slot_input(ctx: ExecutionContext, slot: str) -> InputNode | None:
    """The completed node in a single slot, if it is filled."""
    nodes = ctx.slots.get(slot) or []
    return nodes[0] if nodes else None


def input_key(ctx: ExecutionContext, node: InputNode, kinds: tuple[str, ...]) -> str:
    """The checked store key of an input's output (assets/inputs.py rules)."""
    return inputs.input_key(ctx, node.id, kinds)


def input_text(ctx: ExecutionContext, node: InputNode) -> str:
    """A script/prompt input's text (assets/inputs.py); a JSON document gives its `script` or
    `text` string."""
    text = inputs.input_text(ctx, node.id)  # capped at inputs.MAX_TEXT_BYTES
    output = node.output or {}
    if output.get("contentType") != "application/json" and not str(
            output.get("s3Key") or "").endswith(".json"):
        return text
    try:
        doc = json.loads(text)
    except ValueError:
        raise ExecutionFailed(f"Input node {node.id}: script is not valid JSON",
                              "InvalidInput") from None
    found = next((doc[k] for k in ("script", "text") if isinstance(doc, dict)
                  and isinstance(doc.get(k), str)), None)
    if found is None:
        raise ExecutionFailed(f"Input node {node.id}: JSON script has no `script` or `text` "
                              "string", "InvalidInput")
    return str(found)


def fingerprint(*parts: Any) -> str:
    """A stable hash of a provider request's inputs (resume and idempotency keys)."""
    raw = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class Probe:
    """What PyAV sees in a media file."""

    duration: float
    width: int | None
    height: int | None
    audio_duration: float | None


def probe(path: Path) -> Probe:
    """Container duration, frame size and audio stream duration, probed with PyAV."""
    import av

    try:
        with av.open(str(path)) as container:
            duration = float(container.duration or 0) / 1_000_000
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            audio_seconds = (float(audio.duration * audio.time_base)
                             if audio is not None and audio.duration and audio.time_base
                             else None)
            return Probe(round(duration, 3), video.width if video else None,
                         video.height if video else None,
                         round(audio_seconds, 3) if audio_seconds else None)
    except (av.error.FFmpegError, OSError) as exc:
        raise ExecutionFailed(f"provider returned unreadable media: {exc}",
                              "BadProviderOutput") from None


def concat_audio(parts: list[Path], dest: Path) -> None:
    """Join audio clips of one format losslessly (FFmpeg concat demuxer, argv only)."""
    import imageio_ffmpeg

    listing = dest.with_suffix(".txt")
    # The concat list quotes each path; ours are temporary names without quotes.
    listing.write_text("".join(f"file '{p.as_posix()}'\n" for p in parts))
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error",
                    "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(dest)],
                   check=True, timeout=600, capture_output=True)


def live_job(ctx: ExecutionContext, provider: str, fp: str) -> str | None:
    """The id of this node's earlier job for the same request that may be resumed: one still
    running, or one that completed but whose result never landed (not on a forced re-render)."""
    prior = (ctx.node.metadata or {}).get("provider_job")
    if not isinstance(prior, dict) or prior.get("provider") != provider:
        return None
    if prior.get("fingerprint") != fp or not isinstance(prior.get("id"), str):
        return None
    state = prior.get("state")
    if state == "running" or (state == "completed" and ctx.node.status != "completed"):
        return str(prior["id"])
    return None


def job_record(provider: str, job_id: str, fp: str, state: str) -> dict[str, Any]:
    """`metadata.provider_job`: what a later execution needs to resume (never a URL or key)."""
    return {"provider_job": {"provider": provider, "id": job_id, "fingerprint": fp,
                             "state": state}}


def submit_key(ctx: ExecutionContext, fp: str, part: str = "") -> str:
    """An idempotency key for this request; a new one after the last job for it failed (its
    replay would return the failed job)."""
    prior = (ctx.node.metadata or {}).get("provider_job")
    after = str(prior.get("id")) if isinstance(prior, dict) and prior.get(
        "fingerprint") == fp and prior.get("state") in ("failed", "cancelled") else ""
    return fingerprint(ctx.node.id, fp, part, after)
