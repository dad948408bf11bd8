"""`python -m video_dagster.cli` runs the command."""

import sys

from video_dagster.cli import main

sys.exit(main())
