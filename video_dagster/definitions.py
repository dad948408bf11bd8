"""The `video` code location: the one place Definitions are assembled and resources chosen."""

from __future__ import annotations

import os
import warnings

from dagster import AssetKey, Definitions, PreviewWarning

from video_dagster.assets.loader import PipelineGraphLoader
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.lambda_invoker import LambdaInvokerResource
from video_dagster.resources.object_store import ObjectStoreResource


def build_resources() -> dict[str, object]:
    """Resources from the environment (see README's environment table); defaults run locally."""
    env = os.environ
    return {
        "database": DatabaseResource(url=env.get("DATABASE_URL") or None),
        "object_store": ObjectStoreResource(
            backend="s3" if env.get("VIDEO_STORE_BACKEND") == "s3" else "local",
            bucket=env.get("VIDEO_STORE_BUCKET") or "video-dagster",
            endpoint_url=env.get("VIDEO_STORE_ENDPOINT_URL") or None,
            region_name=env.get("AWS_REGION") or None,
        ),
        "lambda_invoker": LambdaInvokerResource(
            mode="aws" if env.get("VIDEO_LAMBDA_MODE") == "aws" else "local",
            function_prefix=env.get("VIDEO_LAMBDA_PREFIX") or "",
            region_name=env.get("AWS_REGION") or None,
        ),
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
        graph, Definitions(sensors=build_sensors(frozenset(keys)), resources=build_resources())
    )


defs = build_defs()
