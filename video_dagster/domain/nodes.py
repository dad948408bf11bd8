"""The node type registry: input slots and config schemas of every node type (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from video_dagster.domain import configs as cfg

FieldKind = Literal["string", "integer", "number", "boolean", "array", "hash"]

LEGACY_TYPE_NAMES: Mapping[str, str] = MappingProxyType({"talking-head": "generate-talking-head"})


@dataclass(frozen=True)
class SlotSpec:
    """One input slot: a single node reference or an ordered list of them."""

    name: str
    multiple: bool = False
    required: bool = False
    min_items: int | None = None
    max_items: int | None = None


@dataclass(frozen=True)
class FieldSpec:
    """One config field: its JSON kind, whether it is required, and its allowed values."""

    name: str
    kind: FieldKind
    required: bool = False
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NodeType:
    """One row of the type table: slots and config fields (in the order errors are reported),
    typed config model, output kind, executor name and cost estimator name."""

    name: str
    slots: tuple[SlotSpec, ...]
    fields: tuple[FieldSpec, ...]
    config_model: type[cfg.NodeConfig] = cfg.NodeConfig
    kind: str = "video"
    # Registry name in assets/executors (the registry maps it to an executor instance).
    executor: str | None = None
    # Name in domain/costs.ESTIMATORS.
    estimator: str = "flat"

    @property
    def providers(self) -> tuple[str, ...]:
        """Allowed `config.provider` values; empty for types without a provider (asset)."""
        for spec in self.fields:
            if spec.name == "provider":
                return spec.allowed or ()
        return ()

    def pool(self, provider: str | None) -> str:
        """Concurrency pool: `video_local` for in-process types, else one pool per provider."""
        return "video_local" if not self.providers else f"video_{provider or 'unknown'}"

    def slot(self, name: str) -> SlotSpec | None:
        """The slot called `name`, if this type has one."""
        return next((s for s in self.slots if s.name == name), None)


def _provider(*allowed: str) -> FieldSpec:
    return FieldSpec("provider", "string", required=True, allowed=allowed)


def _single(name: str, *, required: bool = False) -> SlotSpec:
    return SlotSpec(name, multiple=False, required=required)


def _ints(*names: str) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(n, "integer") for n in names)


_TYPES = (
    NodeType("asset", slots=(), fields=(), config_model=cfg.AssetConfig, kind="file",
             executor="asset"),
    NodeType(
        "generate-talking-head",
        slots=(_single("audio", required=True), _single("background")),
        fields=(
            _provider("heygen"),
            FieldSpec("avatarId", "string", required=True),
            *_ints("width", "height"),
            FieldSpec("background", "string"),
        ),
        config_model=cfg.TalkingHeadConfig, executor="generate-talking-head",
        estimator="talking_head",
    ),
    NodeType(
        "generate-animation",
        slots=(_single("prompt"), _single("referenceImage")),
        fields=(
            _provider("veo3", "runway", "stability"),
            FieldSpec("backend", "string", allowed=("gemini", "vertex", "runway")),
            *_ints("duration", "seed"),
            *(FieldSpec(n, "string") for n in ("aspectRatio", "style", "model", "resolution",
                                               "negativePrompt", "prompt")),
            FieldSpec("generateAudio", "boolean"),
        ),
        config_model=cfg.AnimationConfig, executor="generate-animation", estimator="animation",
    ),
    NodeType(
        "generate-voiceover",
        slots=(_single("script"),),
        fields=(
            _provider("elevenlabs"),
            FieldSpec("voiceId", "string"),
            FieldSpec("modelId", "string"),
            # ElevenLabs voice settings are fractions (0.0-1.0), so they are numbers, not integers.
            FieldSpec("stability", "number"),
            FieldSpec("similarityBoost", "number"),
            FieldSpec("style", "number"),
            FieldSpec("useSpeakerBoost", "boolean"),
            FieldSpec("speed", "number"),
            FieldSpec("outputFormat", "string"),
            FieldSpec("text", "string"),
        ),
        config_model=cfg.VoiceoverConfig, kind="audio", executor="generate-voiceover",
        estimator="voiceover",
    ),
    NodeType(
        "render-code",
        slots=(_single("config"),),
        # `native` is this project's own renderer (`builtin` its older name); `remotion` is the
        # editor's original one, rendered natively until a Remotion deployment is configured.
        fields=(_provider("remotion", "builtin", "native"),),
        config_model=cfg.RenderCodeConfig, executor="render-code", estimator="lambda",
    ),
    NodeType(
        "mix-audio",
        slots=(_single("video", required=True), _single("audio", required=True)),
        fields=(_provider("ffmpeg"),),
        config_model=cfg.MixAudioConfig, executor="mix-audio", estimator="lambda",
    ),
    NodeType(
        "merge-videos",
        slots=(SlotSpec("segments", multiple=True, required=True, min_items=2),),
        fields=(_provider("ffmpeg"),),
        config_model=cfg.MergeVideosConfig, executor="merge-videos", estimator="lambda",
    ),
    NodeType(
        "compose-video",
        slots=(_single("background", required=True), _single("overlay", required=True)),
        fields=(
            _provider("ffmpeg"),
            FieldSpec("rounded", "boolean", required=True),
            *_ints("cropTop", "cropLeft", "cropWidth", "cropHeight"),
        ),
        config_model=cfg.ComposeVideoConfig, executor="compose-video", estimator="lambda",
    ),
)

NODE_TYPES: Mapping[str, NodeType] = MappingProxyType({t.name: t for t in _TYPES})
"""Every canonical node type by name."""

EXECUTABLE_TYPES: frozenset[str] = frozenset(t.name for t in _TYPES if t.executor)
"""Types the orchestrator executes: all of them, `asset` included (it checks/stores its source)."""

PROVIDER_TYPES: frozenset[str] = frozenset(t.name for t in _TYPES if t.providers)
"""Types whose config names a provider (every type except `asset`)."""


def canonical_type(node_type: str) -> str:
    """The canonical spelling of a type name (`talking-head` → `generate-talking-head`)."""
    return LEGACY_TYPE_NAMES.get(node_type, node_type)


def node_type_of(node_type: Any) -> NodeType | None:
    """The registry entry for a raw (possibly garbage) type value, or None when unknown."""
    if not isinstance(node_type, str):
        return None
    return NODE_TYPES.get(canonical_type(node_type))


def provider_of(node_type: Any, config: Any) -> str | None:
    """The node's provider when it is an allowed one for its type; None otherwise (never raises).

    Invalid or missing providers give None so that callers never build a tag or pool name from
    arbitrary editor input.
    """
    spec = node_type_of(node_type)
    if spec is None or not isinstance(config, dict):
        return None
    provider = config.get("provider")
    if isinstance(provider, str) and provider in spec.providers:
        return provider
    return None


def parse_config(node_type: str, config: Any) -> cfg.NodeConfig:
    """The node's config as its type's typed model; ConfigError (a ValueError) when it is bad."""
    spec = node_type_of(node_type)
    if spec is None:
        raise cfg.ConfigError(f"Unknown node type: {node_type}")
    return cfg.parse(spec.config_model, config)
