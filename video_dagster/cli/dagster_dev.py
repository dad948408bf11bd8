"""`dagster dev` as `video-dagster dev` runs it: the same command, without one warning.

`dagster dev` warns on every start that it is superseded by `dg dev` (dagster-dg-cli, not a
dependency of this project). We start it deliberately, so that warning is silenced here; every
other warning still shows.
"""

import warnings

from dagster._cli import main
from dagster._utils.warnings import SupersessionWarning

warnings.filterwarnings("ignore", category=SupersessionWarning)
main()
