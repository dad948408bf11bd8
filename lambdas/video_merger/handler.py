"""AWS Lambda entry point of the video merger: fetch, probe, normalize, concat, upload."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdas.common.kit import describe, probe_input
from lambdas.common.logs import JsonLogger
from lambdas.common.media import MediaInfo, ffmpeg_exe, run_ffmpeg
from lambdas.common.runtime import Deadline, run_with_callback
from lambdas.common.storage import Storage
from lambdas.common.uris import ObjectUri
from lambdas.common.workdir import work_dir
from lambdas.video_merger import core, transitions

LOG = JsonLogger("video_merger")
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Merge `input_videos` into `output_uri`; always writes the callback and returns its body."""
    return run_with_callback(
        event, LOG, lambda raw, storage: merge(raw, storage, context), context)


def merge(
    raw: Mapping[str, Any], storage: Storage, context: Any = None, tmp_root: str | None = None
) -> dict[str, Any]:
    """Do the merge in a private temp dir (removed on every path) and return the result."""
    event = core.parse_event(raw)
    deadline = Deadline(context)
    ffmpeg = ffmpeg_exe()
    started = time.monotonic()
    with work_dir("video_merger", tmp_root) as work:
        sources = [
            storage.local_path(uri, work / f"in_{i:03d}{_suffix(uri)}")
            for i, uri in enumerate(event.inputs)
        ]
        infos = [probe_input(f"input_videos[{i}]", uri, path, video=True)
                 for i, (uri, path) in enumerate(zip(event.inputs, sources, strict=True))]
        if event.transition != "none":
            result = _with_transition(event, sources, infos, ffmpeg, deadline, work)
            storage.upload(work / f"output{event.suffix}", event.base.output, move=True)
            result.update(input_count=len(event.inputs),
                          elapsed_seconds=round(time.monotonic() - started, 3))
            return result
        target, plans = core.plan_inputs(infos, event.muxer)
        mode = core.merge_mode(plans)
        LOG.info("merge_planned", mode=mode, process_uuid=event.base.process_uuid,
                 normalized=[p.index for p in plans if p.needs_work])
        segments: list[str] = []
        for plan, src, info, uri in zip(plans, sources, infos, event.inputs, strict=True):
            seg = work / f"seg_{plan.index:03d}{event.suffix if plan.needs_work else _suffix(uri)}"
            if plan.needs_work:
                argv = core.normalize_argv(
                    ffmpeg, str(src), str(seg), info, plan, target, event.muxer)
                run_ffmpeg(argv, deadline.seconds_left())
            else:
                # A safe name in our dir, so the concat list never holds a user path.
                seg.symlink_to(src.resolve())
            segments.append(str(seg))
        list_path = work / "concat.txt"
        list_path.write_text(core.concat_list(segments), encoding="utf-8")
        out = work / f"output{event.suffix}"
        has_audio = target.audio is not None
        run_ffmpeg(core.concat_argv(ffmpeg, str(list_path), str(out), has_audio, event.muxer),
                   deadline.seconds_left())
        result = describe(event.base, out)
        storage.upload(out, event.base.output, move=True)
    result.update(
        mode=mode,
        reencoded_inputs=[p.index for p in plans if p.needs_work],
        input_count=len(event.inputs),
        elapsed_seconds=round(time.monotonic() - started, 3),
    )
    return result


def _with_transition(event: core.MergeEvent, sources: list[Path], infos: list[MediaInfo],
                     ffmpeg: str, deadline: Deadline, work: Path) -> dict[str, Any]:
    """One re-encoding pass with xfade/acrossfade (lambdas/video_merger/transitions.py)."""
    duration = event.transition_duration
    transitions.check_duration(event.transition, duration, infos)
    out = work / f"output{event.suffix}"
    argv = transitions.transition_argv(ffmpeg, [str(s) for s in sources], infos,
                                       event.transition, duration, str(out), event.muxer)
    LOG.info("merge_planned", mode="transition", transition=event.transition,
             process_uuid=event.base.process_uuid)
    run_ffmpeg(argv, deadline.seconds_left())
    expected = transitions.expected_duration([i.duration or 0.0 for i in infos], duration)
    return describe(event.base, out, mode="reencode", transition=event.transition,
                    transition_duration=duration, expected_duration=round(expected, 3),
                    reencoded_inputs=list(range(len(infos))))


def _suffix(uri: ObjectUri) -> str:
    # Keep the extension as a demuxer hint, but only a harmless one.
    return uri.suffix if _SAFE_SUFFIX.match(uri.suffix) else ".bin"
