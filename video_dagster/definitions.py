"""The `video` code location: the one place Definitions are assembled and resources chosen.

No environment variable is read at import time: the resources below read theirs when a run (or
sensor tick) first uses them, so one loaded location follows the environment it runs in.
"""

from __future__ import annotations

import warnings

from dagster import AssetKey, Definitions, PreviewWarning

from video_dagster.assets.loader import PipelineGraphLoader
from video_dagster.assets.step_executor import STEP_EXECUTOR
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.from_env import EnvLambdaInvokerResource, EnvObjectStoreResource
from video_dagster.resources.providers.resource import ProvidersResource


def build_resources() -> dict[str, object]:
    """Resources configured from the environment at run time; defaults run locally."""
    return {
        "database": DatabaseResource(),  # DATABASE_URL, else the embedded server
        "object_store": EnvObjectStoreResource(),
        "lambda_invoker": EnvLambdaInvokerResource(),
        # ELEVENLABS_API_KEY, HEYGEN_API_KEY (and *_BASE_URL); without a key the bundled
        # emulators serve that provider.
        "providers": ProvidersResource(),
    }


def build_defs() -> Definitions:
    """Graph from the database (or reconstruction metadata), plus sensors and resources."""
    from video_dagster.db.snapshot import load_graph_snapshot
    from video_dagster.sensors import build_sensors

    with warnings.catch_warnings():
        # The state-backed loader's `with_reconstruction_metadata` is flagged as preview on every
        # load (and every run worker); DESIGN §6 pins dagster==1.13.* and chose it knowingly.
        warnings.simplefilter("ignore", PreviewWarning)
        graph = PipelineGraphLoader(fetch_snapshot=load_graph_snapshot).build_defs()
    keys: set[AssetKey] = {spec.key for a in graph.assets or [] for spec in a.specs}  # type: ignore[union-attr]
    return Definitions.merge(
        graph,
        Definitions(sensors=build_sensors(frozenset(keys)), resources=build_resources(),
                    executor=STEP_EXECUTOR),
    )


defs = build_defs()
