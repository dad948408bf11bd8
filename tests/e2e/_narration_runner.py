"""Run a narration pipeline in its own process (the test kills it mid-render)."""

import json
import sys

from dagster import DagsterInstance

from tests.e2e.narration import run
from video_dagster.db.engine import get_engine
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.lambda_invoker import LambdaInvokerResource
from video_dagster.resources.object_store import ObjectStoreResource
from video_dagster.resources.providers.resource import ProvidersResource

args = json.loads(sys.argv[1])
resources = {
    "database": DatabaseResource(url=args["db_url"]),
    "object_store": ObjectStoreResource(backend="local", local_root=args["store_root"]),
    "lambda_invoker": LambdaInvokerResource(mode="local", log_dir=args["lambda_dir"]),
    "providers": ProvidersResource(**args["providers"]),
}
with DagsterInstance.ephemeral() as instance:
    run(get_engine(args["db_url"]), resources, instance, pid=args["pid"])
