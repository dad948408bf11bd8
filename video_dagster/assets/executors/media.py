"""mix-audio, compose-video and render-code on their Lambdas: typed config, input checks, estimates.

Input media rules:
- mix-audio: `video` must be a video. `audio` is an audio output, or a video whose audio stream is
  used: refused here when its producer reported `has_audio: false`, otherwise the Lambda checks
  the stream and fails with "has no audio stream".
- compose-video: `background` and `overlay` must be videos.
- render-code: the optional `config` input must be a json asset (`.json` key or JSON content
  type); without it the scene fields (`language`, `theme`, `title`, `code`, `highlights`) come
  from the node config. `remotion` renders with the native renderer too, and says so.
Estimates: the function's memory x a predicted run time x the GB-second price
(`lambda_functions.estimate`; the media length is the inputs' when their producers reported it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# A module import, used at call time: inputs.py imports this package's base module.
from video_dagster.assets import inputs
from video_dagster.assets.executors.base import ExecutionContext, ExecutionFailed
from video_dagster.assets.executors.lambda_media import LambdaMediaExecutor
from video_dagster.resources.lambda_functions import FUNCTIONS, estimate

SCENE_FIELDS = ("language", "theme", "title", "code", "highlights")
MAX_SCENE_BYTES = 1_048_576  # lambdas/code_renderer/handler.py's limit


class _Config(BaseModel):
    """Node config as the editor writes it (camelCase); unknown keys such as provider ignored."""

    # No inf/NaN (pydantic reads the text "inf" as a float): an event holding one is not JSON
    # to Lambda's Invoke API, and the user would see that instead of the field's name.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)


class MixAudioConfig(_Config):
    """mix-audio options."""

    audioVolume: float = Field(1.0, ge=0, le=10)
    videoVolume: float = Field(1.0, ge=0, le=10)
    fadeIn: float = Field(0.0, ge=0, le=3600)
    fadeOut: float = Field(0.0, ge=0, le=3600)
    mode: Literal["replace", "mix"] = "replace"
    loudnorm: float | None = Field(None, ge=-70, le=-5)


class ComposeVideoConfig(_Config):
    """compose-video options (geometry rules: lambdas/video_composer/core.py)."""

    rounded: bool
    radius: int | None = Field(None, ge=0)
    cropTop: int | None = Field(None, ge=0)
    cropLeft: int | None = Field(None, ge=0)
    cropWidth: int | None = Field(None, ge=1)
    cropHeight: int | None = Field(None, ge=1)
    position: Literal["bottom-right", "bottom-left", "top-right", "top-left", "center"] = (
        "bottom-right")
    scale: float = Field(0.3, ge=0.01, le=1)
    offsetX: int = 0
    offsetY: int = 0
    opacity: float = Field(1.0, ge=0, le=1)
    border: int = Field(0, ge=0)
    borderColor: str = Field("white", pattern=r"^#?[A-Za-z0-9]+$")
    backgroundFit: Literal["hold", "loop"] = "hold"
    audio: Literal["overlay", "mix"] = "overlay"


class RenderCodeConfig(_Config):
    """render-code options; the scene may sit here too."""

    provider: Literal["native", "remotion", "builtin"] = "native"
    duration: float = Field(10.0, ge=0.5, le=600)
    width: int = Field(1920, ge=320, le=3840)
    height: int = Field(1080, ge=180, le=2160)
    fps: int = Field(30, ge=1, le=60)
    typing: float | Literal["instant"] | None = None


def typed(model: type[_Config], config: Any) -> dict[str, Any]:
    """The validated config as the Lambda reads it; ExecutionFailed names every bad field."""
    try:
        parsed = model.model_validate(config if isinstance(config, dict) else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"config.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ExecutionFailed(problems, "InvalidConfig") from None
    return parsed.model_dump(exclude_none=True, exclude={"provider"})


def _output(ctx: ExecutionContext, node_id: str) -> dict[str, Any]:
    found = next((n for nodes in ctx.slots.values() for n in nodes if n.id == node_id), None)
    output = found.output if found else None
    # Any JSON may sit in the column (a list, a string): only an object is an output.
    return dict(output) if isinstance(output, dict) else {}


def _one(ctx: ExecutionContext, slot: str) -> str:
    refs = inputs.slot_refs(ctx, slot)
    if not refs:
        raise ExecutionFailed(f"{ctx.node.type} needs its '{slot}' input", "InvalidInput")
    return refs[0]


def _seconds(outputs: list[dict[str, Any]]) -> float | None:
    known = [float(o["duration"]) for o in outputs if isinstance(o.get("duration"), int | float)]
    return max(known) if known else None


class _Estimating(LambdaMediaExecutor):
    """Adds the cost estimate (video_dagster/resources/lambda_functions.py `estimate`)."""

    node_type: str

    def estimate(self, config: Any, produced: list[dict[str, Any]]) -> float:
        """USD: the function's GB-seconds for the predicted run time, at the list price."""
        return estimate(self.node_type, config if isinstance(config, dict) else {},
                        _seconds(produced))


class MixAudioExecutor(_Estimating):
    """mix-audio: an audio track under a video, on the audio_mixer Lambda."""

    function_name, node_type = "audio_mixer", "mix-audio"
    timeout = FUNCTIONS["audio_mixer"].deadline

    def build_event(self, ctx: ExecutionContext) -> dict[str, Any]:
        config = typed(MixAudioConfig, ctx.node.config)
        video, audio = _one(ctx, "video"), _one(ctx, "audio")
        produced = _output(ctx, audio)
        if produced.get("type") == "video" and produced.get("has_audio") is False:
            raise ExecutionFailed(f"Input node {audio} (audio) is a video without an audio "
                                  "stream", "InvalidInput")
        return {"video_uri": inputs.input_uri(ctx, video, ("video",)),
                "audio_uri": inputs.input_uri(ctx, audio, ("audio", "video")), "config": config}


class ComposeVideoExecutor(_Estimating):
    """compose-video: picture-in-picture on the video_composer Lambda."""

    function_name, node_type = "video_composer", "compose-video"
    timeout = FUNCTIONS["video_composer"].deadline

    def build_event(self, ctx: ExecutionContext) -> dict[str, Any]:
        config = typed(ComposeVideoConfig, ctx.node.config)
        return {"background_uri": inputs.input_uri(ctx, _one(ctx, "background"), ("video",)),
                "overlay_uri": inputs.input_uri(ctx, _one(ctx, "overlay"), ("video",)),
                "config": config}


class RenderCodeExecutor(_Estimating):
    """render-code: the native renderer on the code_renderer Lambda."""

    function_name, node_type = "code_renderer", "render-code"
    timeout = FUNCTIONS["code_renderer"].deadline

    def build_event(self, ctx: ExecutionContext) -> dict[str, Any]:
        raw = ctx.node.config if isinstance(ctx.node.config, dict) else {}
        config = typed(RenderCodeConfig, raw)
        event: dict[str, Any] = {"config": config}
        refs = inputs.slot_refs(ctx, "config")
        if refs:
            produced = _output(ctx, refs[0])
            key = str(produced.get("s3Key") or "")
            if not (key.endswith(".json") or "json" in str(produced.get("contentType") or "")):
                raise ExecutionFailed(f"Input node {refs[0]} (config) must be a json asset "
                                      "holding {language, theme, title, code, highlights}",
                                      "InvalidInput")
            scene_key = inputs.input_key(ctx, refs[0], ())
            info = ctx.store.stat(scene_key)
            # Checked here: the function would download the whole object before measuring it.
            if info is not None and info.size > MAX_SCENE_BYTES:
                raise ExecutionFailed(f"Input node {refs[0]} (config) is {info.size} bytes; a "
                                      f"code scene is at most {MAX_SCENE_BYTES}", "InvalidInput")
            event["scene_uri"] = ctx.store.uri(scene_key)
        elif raw.get("code") is not None:
            event["scene"] = {k: raw[k] for k in SCENE_FIELDS if k in raw}
        else:
            raise ExecutionFailed("render-code needs a code scene: a json asset as its 'config' "
                                  "input, or 'code' (and language, theme, ...) in its config",
                                  "InvalidInput")
        if raw.get("provider") == "remotion":
            ctx.log.info("render-code: provider remotion renders with the native renderer (no "
                         "Remotion deployment is configured)")
            event["requested_provider"] = "remotion"
        return event
