"""Fixtures for the Lambda tests: tiny real clips made with FFmpeg, events, a private temp root."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.media import ffmpeg_exe


@dataclass(frozen=True)
class Clips:
    """Generated ~1 s clips (160x120@15 H.264 + AAC mono unless the name says otherwise)."""

    a: Path
    b: Path
    wide: Path  # 320x240
    silent: Path  # no audio track
    mpeg4: Path  # MPEG-4 part 2 video
    stereo48k: Path  # AAC 48 kHz stereo
    corrupt: Path  # random bytes named .mp4


def _make(ffmpeg: str, out: Path, *, size: str = "160x120", vcodec: str = "libx264",
          audio: str | None = "sine=frequency=440:sample_rate=44100",
          audio_args: tuple[str, ...] = ()) -> Path:
    argv = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=15"]
    if audio:
        argv += ["-f", "lavfi", "-i", audio]
    argv += ["-t", "1", "-c:v", vcodec, "-pix_fmt", "yuv420p"]
    argv += ["-c:a", "aac", *audio_args] if audio else []
    subprocess.run([*argv, str(out)], check=True, timeout=60)
    return out


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    """Made once per session; tests must not modify them."""
    folder = tmp_path_factory.mktemp("clips")
    ffmpeg = ffmpeg_exe()
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(bytes(range(256)) * 64)
    return Clips(
        a=_make(ffmpeg, folder / "a.mp4"),
        b=_make(ffmpeg, folder / "b.mp4"),
        wide=_make(ffmpeg, folder / "wide.mp4", size="320x240"),
        silent=_make(ffmpeg, folder / "silent.mp4", audio=None),
        mpeg4=_make(ffmpeg, folder / "mpeg4.mp4", vcodec="mpeg4"),
        stereo48k=_make(ffmpeg, folder / "stereo.mp4",
                        audio="sine=frequency=440:sample_rate=48000",
                        audio_args=("-ac", "2", "-ar", "48000")),
        corrupt=corrupt,
    )


@pytest.fixture
def work_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The merger's temp root, injected through VIDEO_MERGER_TMPDIR; checked empty after."""
    root = tmp_path / "work"
    root.mkdir()
    monkeypatch.setenv("VIDEO_MERGER_TMPDIR", str(root))
    monkeypatch.delenv("FFMPEG_PATH", raising=False)
    yield root
    assert list(root.iterdir()) == [], "the merger left temp files behind"


EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_event(tmp_path: Path) -> EventFactory:
    """Build a file:// merge event with output and callback under tmp_path/store/bucket."""
    store = tmp_path / "store" / "bucket"

    def build(inputs: list[Any], **overrides: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "node_uuid": "node-1",
            "executor_type": "merge-videos",
            "process_uuid": "proc-1",
            "output_uri": f"file://{store}/pipelines/p1/nodes/node-1/output.mp4",
            "callback_uri": f"file://{store}/callbacks/node-1/proc-1.json",
            "s3_endpoint_url": None,
            "input_videos": [f"file://{p}" if isinstance(p, Path) else p for p in inputs],
        }
        event.update(overrides)
        return event

    return build


def read_callback(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON body written at the event's file:// callback_uri."""
    path = Path(event["callback_uri"].removeprefix("file://"))
    body: dict[str, Any] = json.loads(path.read_text())
    return body


@dataclass(frozen=True)
class Tones:
    """Generated audio-only files (AAC in .m4a)."""

    short: Path  # 0.5 s, 880 Hz
    long: Path  # 3 s, 880 Hz


@pytest.fixture(scope="session")
def tones(tmp_path_factory: pytest.TempPathFactory) -> Tones:
    """Made once per session; tests must not modify them."""
    folder = tmp_path_factory.mktemp("tones")
    ffmpeg = ffmpeg_exe()

    def tone(name: str, seconds: float) -> Path:
        out = folder / name
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "sine=frequency=880:sample_rate=44100", "-t", str(seconds),
                        "-c:a", "aac", str(out)], check=True, timeout=60)
        return out

    return Tones(short=tone("short.m4a", 0.5), long=tone("long.m4a", 3.0))


def function_event(tmp_path: Path, executor_type: str, **fields: Any) -> dict[str, Any]:
    """A file:// event for any function: output and callback under tmp_path/store/bucket."""
    store = tmp_path / "store" / "bucket"
    event: dict[str, Any] = {
        "node_uuid": "node-1", "executor_type": executor_type, "process_uuid": "proc-1",
        "output_uri": f"file://{store}/pipelines/p1/nodes/node-1/output.mp4",
        "callback_uri": f"file://{store}/callbacks/node-1/proc-1.json",
    }
    for name, value in fields.items():
        event[name] = f"file://{value}" if isinstance(value, Path) else value
    return event


def output_path(event: dict[str, Any]) -> Path:
    """The local file behind the event's file:// output_uri."""
    return Path(event["output_uri"].removeprefix("file://"))
