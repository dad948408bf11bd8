"""`video-dagster demo`: a real production through the real asset graph, with no credentials.

By default it imports `examples/lesson.json` — every node type: a script voiced on ElevenLabs, a
HeyGen presenter, a Veo intro scored with music, a code screen, the presenter composited over it
picture-in-picture, and a crossfaded merge — and materializes it through Dagster: providers answer
from the bundled loopback emulators (real media made with FFmpeg) unless their keys are set, and
the FFmpeg work runs on the Lambdas in local mode. `--quick` runs `examples/merge_clips.json`
(three generated clips merged) instead. It prints the node table, the output file, its probed
duration and a copy of the video to watch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from video_dagster.cli.common import EXAMPLES_DIR, add_command
from video_dagster.cli.common import engine as cli_engine
from video_dagster.cli.environment import dagster_environment
from video_dagster.cli.views import print_pipeline

CLIPS = {
    "library/demo/clip_a.mp4": ["-f", "lavfi", "-i", "smptebars=size=320x240:rate=25",
                                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"],
    "library/demo/clip_b.mp4": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                                "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100"],
    "library/demo/clip_c.mp4": ["-f", "lavfi", "-i", "testsrc2=size=480x270:rate=30"],
}
MUSIC_KEY = "library/demo/music.m4a"
EXAMPLES = {"lesson": "lesson.json", "quick": "merge_clips.json"}


def make_clips(folder: Path, seconds: float = 2.0) -> dict[str, Path]:
    """Encode the demo clips with the bundled FFmpeg (argv, never a shell)."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    paths = {}
    for key, source in CLIPS.items():
        out = folder / Path(key).name
        cmd = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", *source, "-t", str(seconds),
               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]
        if "sine" in " ".join(source):
            cmd += ["-c:a", "aac", "-shortest"]
        subprocess.run([*cmd, str(out)], check=True, timeout=120)
        paths[key] = out
    return paths


def make_music(folder: Path, seconds: float = 8.0) -> Path:
    """A soft two-tone music bed for the lesson (argv, never a shell)."""
    import imageio_ffmpeg

    out = folder / "music.m4a"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error",
                    "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=44100:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}",
                    "-filter_complex", "amix=inputs=2,volume=0.5", "-c:a", "aac", str(out)],
                   check=True, timeout=120)
    return out


def probe_duration(path: Path) -> float:
    """Container duration in seconds, probed with PyAV."""
    import av

    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit status 1 when any node did not complete."""
    from dagster import DagsterInstance

    from video_dagster import settings
    from video_dagster.db import embedded, transfer
    from video_dagster.domain.keys import asset_key_path

    started = time.monotonic()
    embedded_mode = settings.database_url_from_env() is None
    was_running = embedded.running_url() is not None if embedded_mode else True
    engine = cli_engine()
    url = engine.url.render_as_string(hide_password=False)
    os.environ.update(dagster_environment(url, embedded_mode))
    try:
        from video_dagster.definitions import build_resources

        store = build_resources()["object_store"].get_store()  # type: ignore[attr-defined]
        example = "quick" if args.quick else "lesson"
        with tempfile.TemporaryDirectory(prefix="vd-demo-") as tmp:
            for key, path in make_clips(Path(tmp)).items():
                store.put_file(key, path, content_type="video/mp4")
            store.put_file(MUSIC_KEY, make_music(Path(tmp)), content_type="audio/mp4")
        with engine.begin() as conn:
            pid = transfer.import_pipeline(
                conn, json.loads((EXAMPLES_DIR / EXAMPLES[example]).read_text())
            )
        print(f"imported pipeline {pid} ({EXAMPLES[example]}); materializing it through "
              "Dagster...", flush=True)

        from video_dagster.definitions import build_defs

        defs = build_defs()
        with engine.connect() as conn:
            import sqlalchemy as sa

            node_rows = conn.execute(
                sa.text("SELECT id::text, type FROM video_production_nodes WHERE pipeline_id = :p"),
                {"p": pid},
            ).all()
        from dagster import AssetKey

        keys = [AssetKey(asset_key_path(pid, n, t)) for n, t in node_rows]
        job = defs.resolve_implicit_global_asset_job_def()
        with DagsterInstance.get() as instance:
            result = job.execute_in_process(
                asset_selection=keys, instance=instance, raise_on_error=False,
                tags={"video/trigger": "demo", "video/pipeline_id": pid},
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        print()
        print_pipeline(engine, pid)
        with engine.connect() as conn:
            statuses = conn.execute(
                sa.text("SELECT status FROM video_production_nodes WHERE pipeline_id = :p"),
                {"p": pid}).scalars().all()
            rows = conn.execute(
                sa.text("SELECT title, status, output FROM video_production_nodes "
                        "WHERE pipeline_id = :p AND type = 'merge-videos'"), {"p": pid}
            ).all()
        ok = result.success and all(s == "completed" for s in statuses)
        for row in rows:
            if row.status != "completed":
                continue
            local = Path(tempfile.gettempdir()) / f"video-dagster-demo-{example}.mp4"
            store.get_to_file(row.output["s3Key"], local)
            print(f"\noutput: {row.output['uri']}")
            print(f"size: {row.output.get('size')} bytes; probed duration: "
                  f"{probe_duration(local):.2f} s; a copy to watch: {local}")
        print(f"\ndemo {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
        return 0 if ok else 1
    finally:
        if embedded_mode and not was_running:
            embedded.stop()


def register(sub: Any) -> None:
    """Add `demo`."""
    p = add_command(sub, "demo", "run the end-to-end demo with no credentials",
                    "video-dagster demo            # the whole lesson, every node type\n"
                    "  video-dagster demo --quick    # three clips merged")
    p.add_argument("--quick", action="store_true",
                   help="merge three generated clips instead of producing the whole lesson")
    p.set_defaults(func=cmd_demo)
