"""A local Lambda runner that starts a long FFmpeg the real way and waits (killed by the test)."""

import sys

from lambdas.common.media import ffmpeg_exe, run_ffmpeg
from lambdas.common.workdir import work_dir

with work_dir(sys.argv[1]) as folder:
    (folder / "partial.bin").write_bytes(b"x" * 1024)
    # Real-time paced (-re) so it runs until killed, using almost no CPU.
    run_ffmpeg([ffmpeg_exe(), "-hide_banner", "-nostdin", "-re", "-f", "lavfi", "-i",
                "anullsrc=r=8000:cl=mono", "-t", "600", "-f", "null", "-"], timeout=600)
