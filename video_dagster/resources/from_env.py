"""Object store and Lambda resources whose settings come from the environment at run time."""

from __future__ import annotations

import os
from functools import cached_property

from video_dagster.resources.lambda_invoker import LambdaInvoker, LambdaInvokerResource
from video_dagster.resources.object_store import ObjectStore, ObjectStoreResource


class EnvObjectStoreResource(ObjectStoreResource):
    """The object store from VIDEO_STORE_BACKEND/_BUCKET/_ENDPOINT_URL and AWS_REGION, read at
    run time (README's environment table); a local folder when unset."""

    def get_store(self) -> ObjectStore:
        """The store the environment names."""
        env = os.environ
        return ObjectStoreResource(
            backend="s3" if env.get("VIDEO_STORE_BACKEND") == "s3" else "local",
            bucket=env.get("VIDEO_STORE_BUCKET") or "video-dagster",
            endpoint_url=env.get("VIDEO_STORE_ENDPOINT_URL") or None,
            region_name=env.get("AWS_REGION") or None,
            local_root=self.local_root,
        ).get_store()


class EnvLambdaInvokerResource(LambdaInvokerResource):
    """Lambda mode and prefix from VIDEO_LAMBDA_MODE/_PREFIX and AWS_REGION, read at run time."""

    @cached_property
    def _from_env(self) -> LambdaInvokerResource:
        env = os.environ
        return LambdaInvokerResource(
            mode="aws" if env.get("VIDEO_LAMBDA_MODE") == "aws" else "local",
            function_prefix=env.get("VIDEO_LAMBDA_PREFIX") or "",
            region_name=env.get("AWS_REGION") or None,
            log_dir=self.log_dir,
        )

    def get_invoker(self) -> LambdaInvoker:
        """The invoker the environment names (one per resource instance)."""
        return self._from_env.get_invoker()
