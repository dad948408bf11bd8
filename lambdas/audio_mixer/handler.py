"""AWS Lambda entry point of the audio mixer: fetch, probe, mix once, upload, call back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.audio_mixer import core
from lambdas.common.errors import InvalidInput
from lambdas.common.kit import OUTPUT_MUXERS, describe, fetch, output_suffix, probe_input
from lambdas.common.logs import JsonLogger
from lambdas.common.media import ffmpeg_exe, run_ffmpeg
from lambdas.common.runtime import Deadline, run_with_callback
from lambdas.common.storage import Storage
from lambdas.common.workdir import work_dir

LOG = JsonLogger("audio_mixer")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Mix `audio_uri` under `video_uri` into `output_uri`; always writes the callback."""
    return run_with_callback(
        event, LOG, lambda raw, storage: mix(raw, storage, context), context)


def mix(raw: Mapping[str, Any], storage: Storage, context: Any = None) -> dict[str, Any]:
    """Do the mix in a private temp dir and return the result."""
    event = core.parse_event(raw)
    deadline = Deadline(context)
    ffmpeg = ffmpeg_exe()
    suffix = output_suffix(event.base)
    with work_dir("audio_mixer") as work:
        video_path = fetch(storage, event.video, work, "video")
        audio_path = fetch(storage, event.audio, work, "audio")
        video = probe_input("video", event.video, video_path, video=True)
        probe_input("audio", event.audio, audio_path, audio=True)
        if not video.duration:
            raise InvalidInput(f"video ({event.video}) has no known duration")
        core.check_fades(event, video.duration)
        graph, mixed = core.mix_filter(event, video, video.duration)
        out = work / f"output{suffix}"
        run_ffmpeg(core.mix_argv(ffmpeg, str(video_path), str(audio_path), graph,
                                 video.duration, str(out), OUTPUT_MUXERS[suffix]),
                   deadline.seconds_left())
        result = describe(event.base, out, mode=event.mode, mixed_video_audio=mixed,
                          loudnorm=event.loudnorm)
        storage.upload(out, event.base.output, move=True)
    return result
