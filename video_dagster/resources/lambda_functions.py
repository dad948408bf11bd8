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
