"""Costs from the versioned price table (prices.json): actual cost per call and estimates."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from video_dagster.domain import configs as cfg
from video_dagster.domain.nodes import node_type_of
from video_dagster.resources.lambda_functions import estimate as lambda_estimate

PRICES: Mapping[str, Any] = json.loads(
    resources.files("video_dagster.domain").joinpath("prices.json").read_text()
)
"""The price table (read from package data, never from the environment)."""


@dataclass(frozen=True)
class Cost:
    """One execution's cost: `amount` (USD) = `quantity` `unit`s times `rate`."""

    amount: float
    unit: str
    quantity: float
    rate: float
    currency: str = "USD"

    def as_metadata(self) -> dict[str, Any]:
        """`metadata.costDetail`: amount, currency, unit, quantity, rate, table version."""
        return {"amount": self.amount, "currency": self.currency, "unit": self.unit,
                "quantity": self.quantity, "rate": self.rate,
                "priceTable": str(PRICES["version"])}


def _cost(quantity: float, unit: str, rate: float) -> Cost:
    return Cost(round(quantity * rate, 6), unit, quantity, rate)


def elevenlabs_credits_per_character(model_id: str) -> float:
    """Credits billed per character by a model (Flash/Turbo 0.5, others 1)."""
    table = PRICES["elevenlabs"]["credits_per_character"]
    return float(table.get(model_id, table["default"]))


def elevenlabs_cost(credits: float) -> Cost:
    """Cost of `credits` ElevenLabs credits (the `character-cost` response header)."""
    return _cost(credits, "credit", float(PRICES["elevenlabs"]["usd_per_credit"]))


def heygen_cost(seconds: float, avatar: str = "avatar") -> Cost:
    """Cost of `seconds` of billed HeyGen output video."""
    rates = PRICES["heygen"]["usd_per_second"]
    return _cost(round(seconds, 3), "second", float(rates.get(avatar, rates["avatar"])))


VEO_DURATIONS: tuple[int, ...] = tuple(int(d) for d in PRICES["veo"]["durations"])
"""Clip lengths Veo makes; a request is mapped to the nearest (ties go up)."""


def nearest_duration(requested: int, allowed: tuple[int, ...]) -> int:
    """The allowed duration closest to `requested` (ties go to the longer one)."""
    return min(allowed, key=lambda d: (abs(d - requested), -d))


def veo_cost(seconds: float, model: str, resolution: str = "720p", audio: bool = True) -> Cost:
    """Cost of `seconds` of Veo output: rate by model tier and audio, times the resolution's
    multiplier (fast/lite models and silent clips are cheaper)."""
    table = PRICES["veo"]
    rates = table["usd_per_second" if audio else "usd_per_second_without_audio"]
    tier = "lite" if "lite" in model else "fast" if "fast" in model else "default"
    multiplier = float(table["resolution_multiplier"].get(resolution, 1.0))
    return _cost(seconds, "second", float(rates[tier]) * multiplier)


def runway_cost(seconds: float, model: str, audio: bool = True) -> Cost:
    """Cost of `seconds` of Runway output in credits converted to USD."""
    table = PRICES["runway"]["credits_per_second"]
    credits = table.get(model if audio else f"{model}:noaudio", table.get(model, 12))
    return _cost(seconds, "second", float(credits) * float(PRICES["runway"]["usd_per_credit"]))


_ASSUME = PRICES["estimate_assumptions"]


def _voiceover(config: cfg.NodeConfig) -> float:
    assert isinstance(config, cfg.VoiceoverConfig)
    chars = len(config.text) if config.text else int(_ASSUME["voiceover_characters"])
    return elevenlabs_cost(chars * elevenlabs_credits_per_character(config.model_id)).amount


def _talking_head(config: cfg.NodeConfig) -> float:
    # Billed seconds ≈ the voiceover's seconds, unknown before it runs: assume a typical length.
    return heygen_cost(float(_ASSUME["talking_head_seconds"])).amount


def _animation(config: cfg.NodeConfig) -> float:
    assert isinstance(config, cfg.AnimationConfig)
    if config.provider == "stability":
        return float(PRICES["flat_estimates"]["stability"])
    if config.provider == "runway" or config.backend == "runway":
        return runway_cost(config.duration, config.model or "gen4.5", audio=False).amount
    seconds = nearest_duration(config.duration, VEO_DURATIONS)
    return veo_cost(seconds, config.model or "veo-3.1-generate", config.resolution,
                    config.generate_audio is not False).amount


def _flat(node_type: str) -> Callable[[cfg.NodeConfig], float]:
    return lambda _config: float(PRICES["flat_estimates"].get(node_type, 0.0))


def _lambda(config: cfg.NodeConfig) -> float:
    # media (issue 10.6): our Lambdas cost GB-seconds x price (resources/lambda_functions.py).
    node_type = {cfg.MixAudioConfig: "mix-audio", cfg.ComposeVideoConfig: "compose-video",
                 cfg.RenderCodeConfig: "render-code", cfg.MergeVideosConfig: "merge-videos"}
    return lambda_estimate(node_type[type(config)], config.model_dump())


ESTIMATORS: Mapping[str, Callable[[cfg.NodeConfig], float]] = {
    "voiceover": _voiceover, "talking_head": _talking_head, "animation": _animation,
    "lambda": _lambda,
}
"""Estimator by name (the type table's `estimator`); `flat` uses `flat_estimates`."""


def estimate(node_type: Any, config: Any) -> float:
    """USD estimate of one execution from the type's estimator; 0 when unknown. Never raises."""
    spec = node_type_of(node_type)
    if spec is None:
        return 0.0
    try:
        parsed = cfg.parse(spec.config_model, config)
    except cfg.ConfigError:
        return 0.0  # invalid config: the node cannot run, so it costs nothing
    estimator = ESTIMATORS.get(spec.estimator) or _flat(spec.name)
    return round(estimator(parsed), 6)
