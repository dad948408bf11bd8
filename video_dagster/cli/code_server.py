"""The `video` code server: Dagster's `api grpc` server that reloads in place and forks run workers.

    python -m video_dagster.cli.code_server -m video_dagster.definitions -a defs \
        --location-name video --lazy-load-user-code -h 0.0.0.0 -p 4000

Takes every option of `dagster api grpc`. Two differences, both for the time from a pipeline
written to its first node running (bench/reaction.py):

- **Reload in place.** The refresher reloads `video` whenever the editor adds a pipeline.
  `dagster code-server start` answers a reload with a new server process, which imports Dagster
  and this project again (~2 s on 2 cores) before it builds the graph. This server imports the
  definitions module again in its own process and swaps the loaded repository, as Dagster's own
  in-process reload does (`ReloadCodeWithState`). A load that fails is served as the location's
  error, as a fresh process's failure would be; the next reload tries again.
- **Run workers fork from a preloaded server.** Dagster's code server starts each run worker as a
  new interpreter (`spawn`). This one forks them from a forkserver that has already imported
  Dagster and the execution path (as the steps do, assets/step_executor.py). The worker still
  imports the definitions module itself and builds its graph from the run's reconstruction
  metadata. Termination and crash detection are Dagster's, unchanged: they only need a
  `multiprocessing.Process`.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import uuid
from typing import Any

from dagster._grpc import server as dagster_server
from dagster._grpc.__generated__ import dagster_api_pb2
from dagster._utils.error import serializable_error_info_from_exc_info

# What a run worker needs before it loads the definitions: the step list plus the run path.
# Not `video_dagster.definitions` (see FORKSERVER_PRELOAD).
RUN_WORKER_PRELOAD = [
    "dagster._grpc.impl",  # start_run_in_subprocess
    "dagster._core.executor.multiprocess",
]


def run_worker_preload() -> list[str]:
    """The run-worker forkserver's preload list; the freezing module stays last."""
    from video_dagster.assets.step_executor import FORKSERVER_PRELOAD

    *modules, freeze = FORKSERVER_PRELOAD
    return [*modules, *RUN_WORKER_PRELOAD, freeze]


def run_worker_context() -> Any:
    """A forkserver context with the run path preloaded, its server started now (in the
    background of this process's start, not in front of the first run)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(run_worker_preload())
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return ctx


class VideoCodeServer(dagster_server.DagsterApiServer):
    """`DagsterApiServer` with an in-place `ReloadCode` and forked run workers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._video_location_name: str | None = kwargs.get("location_name")
        self._mp_ctx = run_worker_context()

    def ReloadCode(self, request: Any, context: Any) -> Any:
        """Load the definitions module again in this process and serve what it defines."""
        with self._reload_lock:
            self.reload_in_place()
        return dagster_api_pb2.ReloadCodeReply()

    def reload_in_place(self) -> None:
        """Import the target module anew and swap the loaded repositories (or serve the error).

        A new server id tells the webserver's and the daemon's watchers to fetch the new
        snapshot. The previous graph was frozen out of the collector's reach by the loader
        (assets/loader.collector_paused); it is unfrozen once swapped out so its cycles are
        collected, and what lives on is frozen again.
        """
        origin = self._loadable_target_origin
        if origin is None:
            return
        if origin.module_name:
            # Dagster loads through importlib.import_module: drop the cached module so the
            # import runs again, inside the load context LoadedRepositories sets up.
            sys.modules.pop(origin.module_name, None)
        try:
            loaded = dagster_server.LoadedRepositories(
                origin,
                entry_point=self._entry_point,
                container_image=self._container_image,
                container_context=self._container_context,
                defs_state_info=self._defs_state_info,
                code_location_name=self._video_location_name,
            )
        except Exception:
            self._logger.exception("Error while reloading code")
            self._loaded_repositories = None
            self._serializable_load_error = serializable_error_info_from_exc_info(sys.exc_info())
        else:
            self._loaded_repositories = loaded
            self._serializable_load_error = None
        self._server_id = str(uuid.uuid4())
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def main(argv: list[str] | None = None) -> None:
    """`dagster api grpc` with VideoCodeServer as its servicer."""
    from dagster._cli import main as dagster_main

    dagster_server.DagsterApiServer = VideoCodeServer  # type: ignore[misc]
    sys.argv = ["dagster", "api", "grpc", *(sys.argv[1:] if argv is None else argv)]
    dagster_main()


if __name__ == "__main__":
    main()
