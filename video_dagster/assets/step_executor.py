"""The executor of the `video` location: forked step processes by default, in-process on demand."""

from __future__ import annotations

from dagster import ExecutorDefinition, Field, Selector
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    _get_default_executor_requirements,
    multi_or_in_process_executor,
)

# Step processes fork from a server that has already imported Dagster and the execution path
# (~0.1 s a step instead of ~2 s for a spawned interpreter, see bench/reaction.py). Not
# `video_dagster.definitions`: importing it builds `defs`, and a step must build its graph from
# the run's reconstruction metadata, never from the database.
FORKSERVER_PRELOAD = [
    "dagster",
    "dagster_postgres",  # the instance's storage, ~22 MB per step when not shared
    "video_dagster.dagster_storage",  # its pooled engines (dagster.yaml)
    "boto3",
    "httpx",
    "video_dagster.assets.translator",
    "video_dagster.assets.loader",
    "video_dagster.assets.execute",
    "video_dagster.db.snapshot",
    "video_dagster.resources.lambda_invoker",
    "video_dagster.resources.object_store",
    "video_dagster.resources.from_env",
    "video_dagster.resources.providers.resource",  # a waiting provider job's client
    "video_dagster.sensors",
    "video_dagster.assets.forkserver",  # last: freezes the above (shared pages stay shared)
]
# Steps mostly wait (a provider job, a Lambda callback): the per-provider pools cap the real
# work, so a run may hold many waiting steps at once instead of the default of one per core.
MAX_CONCURRENT_STEPS = 32
STEP_EXECUTOR = ExecutorDefinition(
    name="video_executor",
    # Dagster's default executor with other defaults; run config may still pick `in_process`.
    config_schema=Field(
        Selector({"multiprocess": MULTI_PROC_CONFIG, "in_process": IN_PROC_CONFIG}),
        default_value={"multiprocess": {
            "max_concurrent": MAX_CONCURRENT_STEPS,
            "start_method": {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}},
        }},
    ),
    requirements=_get_default_executor_requirements,
    executor_creation_fn=multi_or_in_process_executor.executor_creation_fn,
    description="Multiprocess (forkserver, preloaded) by default; `in_process` by run config.",
)
