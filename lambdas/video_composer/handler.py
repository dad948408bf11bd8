"""AWS Lambda entry point of the video composer: fetch, probe, lay out, compose once, upload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.common.errors import InvalidInput
from lambdas.common.kit import OUTPUT_MUXERS, describe, fetch, output_suffix, probe_input
from lambdas.common.logs import JsonLogger
from lambdas.common.media import ffmpeg_exe, run_ffmpeg
from lambdas.common.runtime import Deadline, run_with_callback
from lambdas.common.storage import Storage
from lambdas.common.workdir import work_dir
from lambdas.video_composer import core
from lambdas.video_composer.mask import write_mask

LOG = JsonLogger("video_composer")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Compose `overlay_uri` over `background_uri` into `output_uri`; always calls back."""
    return run_with_callback(
        event, LOG, lambda raw, storage: compose(raw, storage, context), context)


def compose(raw: Mapping[str, Any], storage: Storage, context: Any = None) -> dict[str, Any]:
    """Do the composition in a private temp dir and return the result."""
    event = core.parse_event(raw)
    deadline = Deadline(context)
    ffmpeg = ffmpeg_exe()
    suffix = output_suffix(event.base)
    with work_dir("video_composer") as work:
        bg_path = fetch(storage, event.background, work, "background")
        ov_path = fetch(storage, event.overlay, work, "overlay")
        background = probe_input("background", event.background, bg_path, video=True)
        overlay = probe_input("overlay", event.overlay, ov_path, video=True)
        if not overlay.duration:
            raise InvalidInput(f"overlay ({event.overlay}) has no known duration")
        lay = core.layout(event, background, overlay)
        mask = write_mask(work / "mask.png", lay.outer, lay.radius + lay.border,
                          lay.opacity) if lay.masked else None
        out = work / f"output{suffix}"
        argv = core.compose_argv(ffmpeg, event, str(bg_path), str(ov_path),
                                 str(mask) if mask else None, lay, background, overlay,
                                 str(out), OUTPUT_MUXERS[suffix])
        run_ffmpeg(argv, deadline.seconds_left())
        result = describe(event.base, out, position=event.position, rounded=event.rounded,
                          overlay_box=[lay.x, lay.y, *lay.outer], radius=lay.radius,
                          background_fit=event.fit, audio_source=event.audio)
        storage.upload(out, event.base.output, move=True)
    return result
