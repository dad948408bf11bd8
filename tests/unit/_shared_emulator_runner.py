"""One step process: submit a Runway task or poll one, through `ProvidersResource` and the env."""

from __future__ import annotations

import json
import sys

from video_dagster.resources.providers.resource import ProvidersResource

if __name__ == "__main__":
    providers = ProvidersResource(retry_attempts=1).get_providers()
    if sys.argv[1] == "submit":
        task = providers.runway.submit({"promptText": "a boat", "model": "gen4.5",
                                        "ratio": "1280:720", "duration": 5})
    else:
        task = sys.argv[2]
    try:
        seen = providers.runway.get(task).status
    except Exception as exc:  # the other process's job is unknown here: say so, no traceback
        seen = f"error: {exc}"
    print(json.dumps({"task": task, "status": seen, "emulated": sorted(providers.emulated)}))
