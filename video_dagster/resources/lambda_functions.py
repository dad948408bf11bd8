"""Our Lambda functions: logical name → deployed name, time and memory limits (pure).

One rule names every deployed function: `<VIDEO_LAMBDA_PREFIX><logical name, _ → ->`. The SAM
template names each function `${AWS::StackName}-<hyphenated name>`, so the prefix of a stack
`vd-prod` is `vd-prod-` (`video_merger` → `vd-prod-video-merger`). tests/lambdas/test_template.py
checks this table against template.yaml, so a function's limits are never stated twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from lambdas.common.billing import cost

# After the function's own timeout: the async queue hand-off, the upload and the callback write.
DEADLINE_SLACK = timedelta(minutes=2)


@dataclass(frozen=True)
class LambdaFunction:
    """One function of template.yaml as the orchestrator sees it."""

    name: str
    resource: str
    timeout_seconds: int
    memory_mb: int

    @property
    def deadline(self) -> timedelta:
        """How long an execution may wait for its callback: the function's timeout plus slack."""
        return timedelta(seconds=self.timeout_seconds) + DEADLINE_SLACK

    def cost(self, billed_seconds: float) -> float:
        """USD for one invocation billed for `billed_seconds` (the Lambda's own price rule)."""
        return cost(self.memory_mb, billed_seconds)


FUNCTIONS: Mapping[str, LambdaFunction] = MappingProxyType({
    f.name: f for f in (
        LambdaFunction("video_merger", "VideoMergerFunction", 900, 3008),
        LambdaFunction("audio_mixer", "AudioMixerFunction", 900, 2048),
        LambdaFunction("video_composer", "VideoComposerFunction", 900, 3008),
        LambdaFunction("code_renderer", "CodeRendererFunction", 900, 3008),
    )
})


def deployed_name(logical: str, prefix: str) -> str:
    """The deployed function name of a logical name under a prefix (see the module docstring)."""
    return f"{prefix}{logical.replace('_', '-')}"


# Estimates: run seconds = a fixed start (download, probe, upload) + seconds per second of media.
# Media length is the inputs' when their producers reported it, else DEFAULT_MEDIA_SECONDS.
FIXED_SECONDS = 3.0
DEFAULT_MEDIA_SECONDS = 60.0
_RUN_PER_MEDIA_SECOND = {
    "audio_mixer": 0.05,  # video copied, audio encoded
    "video_composer": 1.0,  # a full decode + encode
    "code_renderer": 0.5,  # bench/media.py: ~0.3 CPU s per second at 1080p30
    "video_merger": 0.05,  # stream copy; a transition re-encodes (below)
}
_TRANSITION_PER_MEDIA_SECOND = 0.8
NODE_FUNCTIONS = {"mix-audio": "audio_mixer", "compose-video": "video_composer",
                  "render-code": "code_renderer", "merge-videos": "video_merger"}


def estimate(node_type: str, config: Mapping[str, object] | None,
             media_seconds: float | None = None) -> float:
    """USD for one execution: the function's GB-seconds for the predicted run time at list price.

    render-code's media length is its own `duration`; merge-videos with a transition re-encodes.
    """
    name = NODE_FUNCTIONS[node_type]
    config = config or {}
    seconds = DEFAULT_MEDIA_SECONDS if media_seconds is None else media_seconds
    per_second = _RUN_PER_MEDIA_SECOND[name]
    if node_type == "render-code":
        duration = config.get("duration")
        seconds = float(duration) if isinstance(duration, int | float) else 10.0
    if node_type == "merge-videos" and config.get("transition") not in (None, "none"):
        per_second = _TRANSITION_PER_MEDIA_SECOND
    return FUNCTIONS[name].cost(FIXED_SECONDS + per_second * seconds)
