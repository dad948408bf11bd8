"""Typed node config: the editor's camelCase JSON parsed into frozen pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel


class NodeConfig(BaseModel):
    """Base: camelCase aliases, unknown keys ignored (DESIGN §3), immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True,
        # validation already reported type errors; 1280.0 stays an error here too
        strict=False,
    )

    provider: str | None = None


class AssetConfig(NodeConfig):
    """`asset`: no config."""


class VoiceoverConfig(NodeConfig):
    """generate-voiceover: ElevenLabs voice, model and settings (editor defaults)."""

    voice_id: str = "21m00Tcm4TlvDq8ikWAM"
    model_id: str = "eleven_multilingual_v2"
    stability: float = Field(0.75, ge=0, le=1)
    similarity_boost: float = Field(0.75, ge=0, le=1)
    style: float = Field(0.0, ge=0, le=1)
    use_speaker_boost: bool = True
    speed: float | None = Field(None, gt=0, le=4)
    output_format: str = "mp3_44100_128"
    language_code: str | None = None
    seed: int | None = Field(None, ge=0, le=4294967295)
    text: str | None = None


class TalkingHeadConfig(NodeConfig):
    """generate-talking-head: HeyGen avatar and output size."""

    avatar_id: str
    width: int = Field(1280, ge=128, le=4096)
    height: int = Field(720, ge=128, le=4096)
    test: bool | None = None  # legacy v2 flag; v3 has no watermark mode
    background: str | None = None  # a colour such as "#ffffff"


class AnimationConfig(NodeConfig):
    """generate-animation: Veo (Gemini or Vertex) or Runway settings."""

    duration: int = Field(5, ge=1, le=60)
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"
    style: str = "cinematic"
    model: str | None = None
    backend: Literal["gemini", "vertex", "runway"] | None = None
    resolution: Literal["720p", "1080p", "4k"] = "720p"
    negative_prompt: str | None = None
    prompt: str | None = None
    seed: int | None = Field(None, ge=0, le=4294967295)
    generate_audio: bool | None = None  # Vertex only; the Gemini API always makes audio


class RenderCodeConfig(NodeConfig):
    """render-code: scene, size, duration."""

    scene_id: str = "CodeScene"
    duration: float = 10
    width: int = 1920
    height: int = 1080
    fps: int | None = None
    # characters per second, or "instant" (lambdas/code_renderer/core.py)
    typing: float | Literal["instant"] | None = None


class MixAudioConfig(NodeConfig):
    """mix-audio: levels and fades."""

    audio_volume: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    mode: Literal["replace", "mix"] | None = None
    video_volume: float | None = None


class MergeVideosConfig(NodeConfig):
    """merge-videos: transition between segments."""

    transition: str = "none"
    transition_duration: float = 0.5


class ComposeVideoConfig(NodeConfig):
    """compose-video: overlay placement and crop."""

    rounded: bool
    position: str = "bottom-right"
    scale: float = 0.3
    opacity: float = 1.0
    offset_x: int = 0
    offset_y: int = 0
    radius: int | None = None
    crop_top: int | None = None
    crop_left: int | None = None
    crop_width: int | None = None
    crop_height: int | None = None
    background_fit: str | None = None
    audio: str | None = None


class ConfigError(ValueError):
    """A config that does not parse; the message names each bad field."""


def parse(model: type[NodeConfig], raw: Any) -> NodeConfig:
    """Parse raw config JSON into `model`; ConfigError with a readable reason otherwise."""
    try:
        return model.model_validate(raw if isinstance(raw, dict) else {})
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "config"
            parts.append(f"{where}: {err['msg']}")
        raise ConfigError("invalid config: " + "; ".join(parts)) from None
