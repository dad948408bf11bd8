"""generate-voiceover on ElevenLabs: script → speech, split at sentences and stitched if long."""

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
)
from video_dagster.assets.executors.provider_common import (
    concat_audio,
    input_text,
    probe,
    slot_input,
    typed_config,
)
from video_dagster.domain import costs
from video_dagster.domain.configs import VoiceoverConfig
from video_dagster.resources.providers.elevenlabs import (
    CHARACTER_LIMITS,
    DEFAULT_CHARACTER_LIMIT,
    split_text,
)

# Formats we can store and probe as files (raw PCM and telephony codecs have no container).
_EXTENSIONS = {"mp3": ("mp3", "audio/mpeg"), "wav": ("wav", "audio/wav"),
               "opus": ("ogg", "audio/ogg")}


def _body(config: VoiceoverConfig, text: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"stability": config.stability,
                                "similarity_boost": config.similarity_boost,
                                "style": config.style,
                                "use_speaker_boost": config.use_speaker_boost}
    if config.speed is not None:
        settings["speed"] = config.speed
    body: dict[str, Any] = {"text": text, "model_id": config.model_id,
                            "voice_settings": settings}
    if config.language_code:
        body["language_code"] = config.language_code
    if config.seed is not None:
        body["seed"] = config.seed
    return body


class VoiceoverExecutor(Executor):
    """Output `{type: audio, s3Key, uri, duration, size, characters, contentType}`."""

    timeout = timedelta(minutes=15)

    def run(self, ctx: ExecutionContext) -> Completed:
        config = typed_config(ctx, VoiceoverConfig)
        script = slot_input(ctx, "script")
        text = (input_text(ctx, script) if script else config.text or "").strip()
        if not text:
            raise ExecutionFailed("generate-voiceover needs a script: connect a `script` input "
                                  "or set config.text", "InvalidInput")
        codec = config.output_format.split("_", 1)[0]
        if codec not in _EXTENSIONS:
            raise ExecutionFailed(f"outputFormat {config.output_format} cannot be stored as a "
                                  "file; use an mp3_*, wav_* or opus_* format", "InvalidConfig")
        ext, content_type = _EXTENSIONS[codec]
        if ctx.providers is None:
            raise ExecutionFailed("no `providers` resource is configured", "NoProvider")
        client = ctx.providers.elevenlabs
        chunks = split_text(text, CHARACTER_LIMITS.get(config.model_id, DEFAULT_CHARACTER_LIMIT))
        request_ids: list[str] = []
        credits = 0.0
        with tempfile.TemporaryDirectory(prefix="vd-tts-") as tmp:
            parts: list[Path] = []
            for i, chunk in enumerate(chunks):
                body = _body(config, chunk)
                if request_ids:  # stitch: the voice carries on from the previous clips
                    body["previous_request_ids"] = request_ids[-3:]
                speech = client.speak(config.voice_id, body, config.output_format,
                                      Path(tmp) / f"part{i:04d}.{ext}")
                parts.append(speech.path)
                if speech.request_id:
                    request_ids.append(speech.request_id)
                credits += (speech.character_cost if speech.character_cost is not None else
                            len(chunk) * costs.elevenlabs_credits_per_character(config.model_id))
                if len(chunks) > 1:
                    ctx.lifecycle.updated(ctx.node.id, {"stage": f"synthesized {i + 1}/"
                                                        f"{len(chunks)}",
                                                        "progress": (i + 1) / len(chunks)},
                                          ctx.process_uuid)
            final = parts[0] if len(parts) == 1 else Path(tmp) / f"voiceover.{ext}"
            if len(parts) > 1:
                concat_audio(parts, final)
            seen = probe(final)
            if seen.duration <= 0:
                raise ExecutionFailed("ElevenLabs returned empty audio", "BadProviderOutput")
            key = ctx.output_key(f"voiceover.{ext}")
            ctx.store.put_file(key, final, content_type=content_type)
            size = final.stat().st_size
        cost = costs.elevenlabs_cost(credits)
        ctx.lifecycle.updated(ctx.node.id, {"request_ids": request_ids,
                                            "costDetail": cost.as_metadata()}, ctx.process_uuid)
        ctx.log.info(f"voiceover: {len(text)} characters in {len(chunks)} request(s), "
                     f"{seen.duration:.2f}s, {credits:g} credits")
        return Completed({"type": "audio", "s3Key": key, "uri": ctx.store.uri(key),
                          "duration": seen.duration, "size": size, "characters": len(text),
                          "contentType": content_type}, cost=cost.amount)
