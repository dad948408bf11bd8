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
  error, as a fresh process's failure would be; the next reload tries again. A reload re-reads
  the database, not the code: once a source file of the project changed since the server
  started, a reload serves an error naming the files and asking for a restart, instead of
  building a graph with code older than what is on disk.
- **Run workers fork from a preloaded server.** Dagster's code server starts each run worker as a
  new interpreter (`spawn`). This one forks them from a forkserver that has already imported
  Dagster and the execution path (as the steps do, assets/step_executor.py). The worker still
  imports the definitions module itself and builds its graph from the run's reconstruction
  metadata. Termination and crash detection are Dagster's: they only need a
  `multiprocessing.Process`. One difference: a worker whose forkserver died is asked by pid
  whether it still runs, where the forkserver's closed pipe would report it dead (and Dagster
  would fail a run that is still going).
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.context
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from dagster._grpc import server as dagster_server
from dagster._grpc.__generated__ import dagster_api_pb2
from dagster._utils.error import serializable_error_info_from_exc_info

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""`video_dagster/`: the code whose changes a reload in place cannot load."""

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


def pid_running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: whether the pid exists at all
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class RunWorkerProcess(multiprocessing.context.ForkServerProcess):
    """A forked run worker that is alive while its pid runs, whatever its forkserver's state.

    Its exit status travels through the forkserver; when that server dies (killed, OOM), every
    worker it forked reads as exited with 255 although it still runs."""

    def is_alive(self) -> bool:
        if super().is_alive():
            return True
        return self.pid is not None and pid_running(self.pid)


class RunWorkerContext(multiprocessing.context.ForkServerContext):
    Process = RunWorkerProcess  # type: ignore[assignment]


def run_worker_context() -> RunWorkerContext:
    """A forkserver context with the run path preloaded, its server started now (in the
    background of this process's start, not in front of the first run)."""
    ctx = RunWorkerContext()
    ctx.set_forkserver_preload(run_worker_preload())
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return ctx


class CodeChangedError(RuntimeError):
    """The project's code on disk is newer than what this server runs."""


def source_stamps(exclude: str | None = None) -> dict[str, int]:
    """Modification times of the project's loaded source files (but `exclude`'s module)."""
    root = str(PACKAGE_DIR) + os.sep
    stamps = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name != exclude and isinstance(path, str) and path.startswith(root):
            try:
                stamps[path] = os.stat(path).st_mtime_ns
            except OSError:
                continue
    return stamps


def changed_sources(stamps: dict[str, int]) -> list[str]:
    """The files of `stamps` modified or removed since."""
    changed = []
    for path, mtime in stamps.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                changed.append(path)
        except OSError:
            changed.append(path)
    return sorted(changed)


class VideoCodeServer(dagster_server.DagsterApiServer):
    """`DagsterApiServer` with an in-place `ReloadCode` and forked run workers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._video_location_name: str | None = kwargs.get("location_name")
        self._mp_ctx = run_worker_context()
        origin = self._loadable_target_origin
        self._source_stamps = source_stamps(exclude=origin.module_name if origin else None)

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
            # Dagster loads through importlib.import_module: drop the cached module (and its
            # package's reference to it) so the import runs again, inside the load context
            # LoadedRepositories sets up.
            sys.modules.pop(origin.module_name, None)
            package, _, name = origin.module_name.rpartition(".")
            if package in sys.modules and hasattr(sys.modules[package], name):
                delattr(sys.modules[package], name)
        try:
            if changed := changed_sources(self._source_stamps):
                names = ", ".join(str(Path(p).relative_to(PACKAGE_DIR.parent))
                                  for p in changed[:5])
                more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
                raise CodeChangedError(
                    f"the code changed since this code server started ({names}{more}): a "
                    "reload re-reads the database, not the code. Restart the code server "
                    "(`video-dagster dev`: Ctrl-C and start it again) to load the new code.")
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
            # The error first: a request between the two assignments sees it.
            self._serializable_load_error = serializable_error_info_from_exc_info(sys.exc_info())
            self._loaded_repositories = None
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
