"""Benchmark the media Lambdas against bare FFmpeg doing the same work, in the same run.

    python bench/media.py            # full: 720p inputs, >= 1 GB memory runs, 10 s 1080p30 code
    python bench/media.py --quick    # smoke variant with tiny inputs (seconds)

(a) speed: each handler (in process, file:// URIs) vs the FFmpeg argv it runs, started bare on
    the same inputs, interleaved repetitions, medians compared (target <= 1.3x);
(b) memory: each function as a local_runner subprocess on >= 1 GB of input, peak RSS of the whole
    process tree (target <= 200 MB);
(c) render-code throughput at 1920x1080x30: seconds of video per second, pinned to one core, and
    per CPU second (target >= 2x real time).
Every file lives in one temp dir that is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from bench.merge import (  # noqa: E402
    MB,
    MEMORY_TARGET_MB,
    SPEED_TARGET,
    _ffmpeg,
    loop_clip,
    make_clip,
    run_measured,
)
from lambdas.audio_mixer import core as mixer  # noqa: E402
from lambdas.audio_mixer.handler import lambda_handler as mix_handler  # noqa: E402
from lambdas.common.media import ffmpeg_exe, probe  # noqa: E402
from lambdas.video_composer import core as composer  # noqa: E402
from lambdas.video_composer.handler import lambda_handler as compose_handler  # noqa: E402
from lambdas.video_composer.mask import write_mask  # noqa: E402
from lambdas.video_merger import transitions  # noqa: E402
from lambdas.video_merger.handler import lambda_handler as merge_handler  # noqa: E402

RENDER_TARGET = 2.0
CODE = (ROOT / "lambdas" / "video_merger" / "transitions.py").read_text()[:1600]


def event(kind: str, out: Path, **fields: Any) -> dict[str, Any]:
    """A file:// event as the orchestrator sends it."""
    body = {"node_uuid": "bench", "executor_type": kind, "process_uuid": "bench",
            "output_uri": f"file://{out}", "callback_uri": f"file://{out}.json"}
    body.update({k: f"file://{v}" if isinstance(v, Path) else v for k, v in fields.items()})
    return body


def call(handler: Callable[[Any, Any], dict[str, Any]], ev: dict[str, Any]) -> float:
    """One in-process handler call (warm Lambda), its JSON logs silenced."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        body = handler(ev, None)
    elapsed = time.perf_counter() - started
    if "result" not in body:
        raise SystemExit(f"handler failed: {body}")
    return elapsed


def bare(argv: list[str]) -> float:
    """The baseline: the same FFmpeg argv, started on its own."""
    started = time.perf_counter()
    subprocess.run(argv, check=True, timeout=900)
    return time.perf_counter() - started


def compare(name: str, reps: int, ours: Callable[[int], float],
            baseline: Callable[[int], float]) -> None:
    """Interleave, drop the warm-up, print medians and the ratio."""
    mine, theirs = [], []
    for rep in range(reps + 1):
        t_ours, t_bare = ours(rep), baseline(rep)
        if rep:
            mine.append(t_ours)
            theirs.append(t_bare)
    m_ours, m_bare = statistics.median(mine), statistics.median(theirs)
    print(f"  {name:<22} handler {m_ours:6.3f} s  bare ffmpeg {m_bare:6.3f} s  "
          f"ratio {m_ours / m_bare:.2f} (target <= {SPEED_TARGET})")


def bench_speed(work: Path, quick: bool, reps: int) -> None:
    """(a) each function vs its own FFmpeg argv on the same inputs."""
    seconds, size = (1, "160x120") if quick else (10, "1280x720")
    video = make_clip(work / "v.mp4", seconds, size)
    small = make_clip(work / "small.mp4", seconds, "160x120" if quick else "640x360")
    tone = work / "tone.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=f=500:sample_rate=44100", "-t", str(seconds / 2),
            "-c:a", "aac", str(tone))
    ffmpeg, vinfo, sinfo = ffmpeg_exe(), probe(video), probe(small)
    print(f"speed: {seconds} s {size} inputs, {reps} repetitions")

    mix_cfg = {"fadeIn": 0.2, "fadeOut": 0.2, "mode": "mix"}
    mix_ev = mixer.parse_event(event("mix-audio", work / "m.mp4", video_uri=video,
                                     audio_uri=tone, config=mix_cfg))
    graph, _ = mixer.mix_filter(mix_ev, vinfo, vinfo.duration or 0)
    compare("audio_mixer", reps,
            lambda r: call(mix_handler, event("mix-audio", work / f"m{r}.mp4", video_uri=video,
                                              audio_uri=tone, config=mix_cfg)),
            lambda r: bare(mixer.mix_argv(ffmpeg, str(video), str(tone), graph,
                                          vinfo.duration or 0, str(work / f"mb{r}.mp4"),
                                          "mp4")))

    cfg = {"rounded": True, "scale": 0.3, "border": 4}
    comp_ev = composer.parse_event(event("compose-video", work / "c.mp4", background_uri=video,
                                         overlay_uri=small, config=cfg))
    lay = composer.layout(comp_ev, vinfo, sinfo)
    mask = write_mask(work / "mask.png", lay.outer, lay.radius + lay.border, lay.opacity)
    compare("video_composer", reps,
            lambda r: call(compose_handler, event("compose-video", work / f"c{r}.mp4",
                                                  background_uri=video, overlay_uri=small,
                                                  config=cfg)),
            lambda r: bare(composer.compose_argv(ffmpeg, comp_ev, str(video), str(small),
                                                 str(mask), lay, vinfo, sinfo,
                                                 str(work / f"cb{r}.mp4"), "mp4")))

    clips = [video, video, video]
    compare("video_merger crossfade", reps,
            lambda r: call(merge_handler, event("merge-videos", work / f"x{r}.mp4",
                                                input_videos=[f"file://{c}" for c in clips],
                                                transition="crossfade",
                                                transition_duration=0.5)),
            lambda r: bare(transitions.transition_argv(ffmpeg, [str(c) for c in clips],
                                                       [vinfo] * 3, "crossfade", 0.5,
                                                       str(work / f"xb{r}.mp4"), "mp4")))


def bench_memory(work: Path, quick: bool) -> None:
    """(b) each function as a local_runner subprocess on >= 1 GB of input."""
    seed = make_clip(work / "noise.mp4", 1 if quick else 2, "320x240" if quick else "1280x720",
                     noise=True)
    big = loop_clip(seed, work / "big.mp4", 2 if quick else 15)
    small = make_clip(work / "ov.mp4", 1 if quick else 4, "160x120")
    tone = work / "tone_big.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=f=500:sample_rate=44100", "-t", "5", "-c:a", "aac",
            str(tone))
    size = big.stat().st_size
    os.environ["LAMBDA_TMPDIR"] = str(work)
    print(f"memory: input of {size / MB:.0f} MB ({size / 1e9:.2f} GB), local_runner subprocess")
    runs = {
        "audio_mixer": event("mix-audio", work / "mm.mp4", video_uri=big, audio_uri=tone),
        # The overlay lasts 4 s: the composer decodes as much background as it needs, so the
        # background's size is what it must not hold in memory.
        "video_composer": event("compose-video", work / "cc.mp4", background_uri=big,
                                overlay_uri=small, config={"rounded": True}),
        "video_merger": event("merge-videos", work / "xx.mp4",
                              input_videos=[f"file://{small}", f"file://{big}"],
                              transition="fade", transition_duration=0.5),
    }
    if quick:
        runs["video_merger"]["input_videos"] = [f"file://{small}", f"file://{small}"]
    for name, ev in runs.items():
        path = work / f"{name}.event.json"
        path.write_text(json.dumps(ev))
        peak, maxrss, elapsed = run_measured(
            [sys.executable, "-m", "lambdas.local_runner", name, str(path)])
        body = json.loads(Path(ev["callback_uri"].removeprefix("file://")).read_text())
        if "result" not in body:
            raise SystemExit(f"{name} failed: {body}")
        print(f"  {name:<15} peak RSS, whole process tree {peak / MB:6.1f} MB "
              f"(largest process {maxrss / MB:.1f} MB, {elapsed:.1f} s; "
              f"target <= {MEMORY_TARGET_MB} MB)")


def bench_render(work: Path, quick: bool) -> None:
    """(c) a 10 s code screen at 1920x1080x30, pinned to one core."""
    seconds, (w, h) = (2.0, (640, 360)) if quick else (10.0, (1920, 1080))
    ev = event("render-code", work / "code.mp4", config={"duration": seconds, "width": w,
                                                         "height": h, "fps": 30},
               scene={"language": "python", "theme": "monokai", "title": "transitions.py",
                      "code": CODE[:500] if quick else CODE, "highlights": [3, [5, 6]]})
    path = work / "code.event.json"
    path.write_text(json.dumps(ev))
    core = min(os.sched_getaffinity(0))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lambdas.local_runner", "code_renderer", str(path)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=600,
                   preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    body = json.loads((work / "code.mp4.json").read_text())
    if "result" not in body:
        raise SystemExit(f"code_renderer failed: {body}")
    print(f"render-code: {seconds:.0f} s at {w}x{h}x30, runner + FFmpeg pinned to core {core}")
    print(f"  wall {wall:.2f} s -> {seconds / wall:.2f}x real time; CPU {cpu:.2f} s -> "
          f"{seconds / cpu:.2f}x real time per CPU second (target >= {RENDER_TARGET}x)")


def main(argv: list[str] | None = None) -> int:
    """Run the three benchmarks in one temp dir and remove it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run")
    parser.add_argument("--reps", type=int, default=None, help="speed repetitions")
    parser.add_argument("--tmp", default=None, help="where to put the (large) temp files")
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="bench-media-", dir=args.tmp) as tmp:
        work = Path(tmp)
        bench_speed(work, args.quick, reps)
        bench_memory(work, args.quick)
        bench_render(work, args.quick)
        used = shutil.disk_usage(tmp)
    print(f"cleaned up {tmp} (disk free afterwards: {used.free / 1e9:.1f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
