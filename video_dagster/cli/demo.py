"""`video-dagster demo`: a real pipeline through the real asset graph, with no credentials.

Generates three short clips with FFmpeg (two compatible, one of another size without audio),
stores them in the local object store, imports `examples/merge_clips.json`, materializes the
pipeline's assets through Dagster (the merge runs on the video_merger Lambda in local mode and
reports through its callback), then prints the node table, the output file and its duration.
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
        with tempfile.TemporaryDirectory(prefix="vd-demo-") as tmp:
            for key, path in make_clips(Path(tmp)).items():
                store.put_file(key, path, content_type="video/mp4")
        with engine.begin() as conn:
            pid = transfer.import_pipeline(
                conn, json.loads((EXAMPLES_DIR / "merge_clips.json").read_text())
            )
        print(f"imported pipeline {pid}; materializing it through Dagster...", flush=True)

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
            rows = conn.execute(
                sa.text("SELECT title, status, output FROM video_production_nodes "
                        "WHERE pipeline_id = :p AND type = 'merge-videos'"), {"p": pid}
            ).all()
        ok = result.success
        for row in rows:
            if row.status != "completed":
                ok = False
                continue
            local = Path(tempfile.gettempdir()) / "video-dagster-demo-output.mp4"
            store.get_to_file(row.output["s3Key"], local)
            print(f"\noutput: {row.output['uri']}")
            print(f"size: {row.output.get('size')} bytes; probed duration: "
                  f"{probe_duration(local):.2f} s (3 clips of 2.00 s)")
        print(f"\ndemo {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
        return 0 if ok else 1
    finally:
        if embedded_mode and not was_running:
            embedded.stop()


def register(sub: Any) -> None:
    """Add `demo`."""
    p = add_command(sub, "demo", "run the end-to-end demo with no credentials",
                    "video-dagster demo")
    p.set_defaults(func=cmd_demo)
