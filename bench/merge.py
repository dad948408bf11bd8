"""Benchmark the video merger against bare FFmpeg (speed) and on >= 1 GB of input (memory).

    python bench/merge.py            # full run: 3 x 60 s 720p clips, then 3 inputs >= 1 GB total
    python bench/merge.py --quick    # smoke variant with tiny inputs (seconds)

Both numbers are measured in the same run as their baseline; every file lives in one temp dir
that is removed at the end, also when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere

from lambdas.common.media import ffmpeg_exe, probe  # noqa: E402
from lambdas.video_merger.handler import lambda_handler  # noqa: E402

MB = 1024 * 1024
SPEED_TARGET, MEMORY_TARGET_MB = 1.3, 200


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, timeout=600)


def make_clip(out: Path, seconds: float, size: str, *, noise: bool = False) -> Path:
    """A clip with video + AAC; `noise` makes it nearly incompressible (a big file fast)."""
    video = f"testsrc2=s={size}:r=25" + (",noise=alls=80:allf=t+u" if noise else "")
    codec = ["-preset", "ultrafast", "-qp", "0"] if noise else ["-preset", "veryfast"]
    _ffmpeg("-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=f=330:sample_rate=44100",
            "-t", str(seconds), "-c:v", "libx264", *codec, "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(out))
    return out


def loop_clip(src: Path, out: Path, times: int) -> Path:
    """Repeat a clip by stream copy: hundreds of MB in about a second."""
    _ffmpeg("-stream_loop", str(times - 1), "-i", str(src), "-c", "copy", str(out))
    return out


def merge_event(inputs: list[Path], out: Path, callback: Path) -> dict[str, Any]:
    """A file:// merge event as the orchestrator sends it."""
    return {
        "node_uuid": "bench-node", "executor_type": "merge-videos", "process_uuid": "bench",
        "output_uri": f"file://{out}", "callback_uri": f"file://{callback}",
        "input_videos": [f"file://{p}" for p in inputs],
    }


def time_handler(event: dict[str, Any]) -> float:
    """One in-process handler call (warm Lambda), its JSON logs silenced."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        body = lambda_handler(event, None)
    elapsed = time.perf_counter() - started
    if "result" not in body or body["result"]["mode"] != "copy":
        raise SystemExit(f"handler did not stream-copy: {body}")
    return elapsed


def time_bare(list_path: Path, out: Path) -> float:
    """The baseline: `ffmpeg -f concat -safe 0 -i list.txt -c copy out.mp4`."""
    started = time.perf_counter()
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(list_path), "-c", "copy", str(out))
    return time.perf_counter() - started


def bench_speed(work: Path, quick: bool, reps: int) -> None:
    """(a) handler vs bare concat on the same inputs, interleaved, medians compared."""
    seconds, size, count = (1, "160x120", 2) if quick else (10, "1280x720", 3)
    base = make_clip(work / "speed_base.mp4", seconds, size)
    loops = 1 if quick else 6
    inputs = [loop_clip(base, work / f"speed_{i}.mp4", loops) for i in range(count)]
    list_path = work / "list.txt"
    list_path.write_text("".join(f"file '{p}'\n" for p in inputs))
    total = sum(p.stat().st_size for p in inputs) / MB
    clip_seconds = probe(inputs[0]).duration or 0.0
    ours, bare = [], []
    for rep in range(reps + 1):  # rep 0 warms imports and the page cache
        out, cb = work / f"ours_{rep}.mp4", work / f"cb_{rep}.json"
        t_ours = time_handler(merge_event(inputs, out, cb))
        t_bare = time_bare(list_path, work / f"bare_{rep}.mp4")
        if rep:
            ours.append(t_ours)
            bare.append(t_bare)
        for done in (out, cb, work / f"bare_{rep}.mp4"):
            done.unlink(missing_ok=True)
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"speed: copy merge of {count} x {clip_seconds:.1f} s {size} clips "
          f"({total:.1f} MB in total), {reps} repetitions")
    print(f"  handler (file:// URIs, in-process): median {m_ours:.3f} s  "
          f"[{min(ours):.3f} .. {max(ours):.3f}]")
    print(f"  bare ffmpeg concat -c copy:         median {m_bare:.3f} s  "
          f"[{min(bare):.3f} .. {max(bare):.3f}]")
    print(f"  ratio handler/bare: {m_ours / m_bare:.2f} (target <= {SPEED_TARGET})")


def _tree_rss(root_pid: int) -> int:
    """Resident bytes of root_pid and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * page
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += [child for child, parent in parents.items() if parent == pid]
    return total


def run_measured(argv: list[str]) -> tuple[int, int, float]:
    """Run argv; return (peak tree RSS polled, ru_maxrss of the child and its reaped children)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = 0
    while True:
        # wait4 (not Popen.wait) hands back this child's own rusage, free of earlier children.
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited with {proc.returncode}")
    return peak, usage.ru_maxrss * 1024, time.perf_counter() - started


def bench_memory(work: Path, quick: bool) -> None:
    """(b) peak memory of the handler, as a local_runner subprocess, on >= 1 GB of input."""
    seed = make_clip(work / "noise.mp4", 1 if quick else 2, "320x240" if quick else "1280x720",
                     noise=True)
    loops = 2 if quick else 5
    inputs = [loop_clip(seed, work / f"big_{i}.mp4", loops) for i in range(3)]
    total = sum(p.stat().st_size for p in inputs)
    out, cb = work / "big_out.mp4", work / "big_cb.json"
    event_path = work / "event.json"
    event_path.write_text(json.dumps(merge_event(inputs, out, cb)))
    env_tmp = work / "merger_tmp"
    env_tmp.mkdir()
    os.environ["VIDEO_MERGER_TMPDIR"] = str(env_tmp)
    argv = [sys.executable, "-m", "lambdas.local_runner", "video_merger", str(event_path)]
    peak, maxrss, elapsed = run_measured(argv)
    body = json.loads(cb.read_text())
    if "result" not in body:
        raise SystemExit(f"merge failed: {body}")
    print(f"memory: merge of 3 inputs totalling {total / MB:.0f} MB ({total / 1e9:.2f} GB) "
          f"-> {body['result']['size'] / MB:.0f} MB output, mode {body['result']['mode']}, "
          f"{elapsed:.1f} s")
    print(f"  peak RSS, whole process tree (polled /proc): {peak / MB:.1f} MB "
          f"(target <= {MEMORY_TARGET_MB} MB)")
    print(f"  peak RSS, largest single process (ru_maxrss): {maxrss / MB:.1f} MB")
    print(f"  ratio peak RSS / input size: {peak / total:.3f}")
    leftovers = list(env_tmp.iterdir())
    print(f"  merger temp files left behind: {len(leftovers)}")


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks in one temp dir and remove it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run")
    parser.add_argument("--reps", type=int, default=None, help="speed repetitions")
    parser.add_argument("--tmp", default=None, help="where to put the (large) temp files")
    args = parser.parse_args(argv)
    reps = args.reps or (2 if args.quick else 7)
    with tempfile.TemporaryDirectory(prefix="bench-merge-", dir=args.tmp) as tmp:
        work = Path(tmp)
        bench_speed(work, args.quick, reps)
        bench_memory(work, args.quick)
        used = shutil.disk_usage(tmp)
    print(f"cleaned up {tmp} (disk free afterwards: {used.free / 1e9:.1f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
