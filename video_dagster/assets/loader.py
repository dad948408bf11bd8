"""Load the asset graph from the database once per code-server load; replay it in run workers."""

# Initialization (code server, `dagster dev`) calls `fetch_snapshot` once and stores the snapshot
# JSON in the Definitions' reconstruction metadata; run workers get that string back from Dagster
# and rebuild the identical graph without touching the database.
#
# Reading the loaded fingerprint (`video/graph_fingerprint`, Definitions metadata): it travels in
# the repository snapshot the code server serves (`RepositorySnap.metadata`), but dagster-graphql
# 1.13 has no field for repository metadata (`Repository.displayMetadata` is the location origin's
# display metadata, not the Definitions'). A refresher outside the location therefore asks the
# code server over gRPC, the same call the webserver makes:
#
#     location = GrpcServerCodeLocationOrigin(host, port, location_name="video")
#     origin = RemoteRepositoryOrigin(location, "__repository__")
#     reply = DagsterGrpcClient(host=host, port=port).external_repository(origin, True)
#     loaded = deserialize_value(reply).metadata["video/graph_fingerprint"].value
#
# (tests/dagster/test_loader.py runs exactly this against a real code server). When it differs
# from the database's fingerprint, the refresher calls GraphQL
# `reloadRepositoryLocation(repositoryLocationName: "video")`. In-process (tests, a sensor of this
# location) use `current_fingerprint(defs)`.

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dagster import Definitions
from dagster._core.definitions.definitions_load_context import StateBackedDefinitionsLoader

from video_dagster.assets.translator import build_node_assets
from video_dagster.domain.snapshot import GraphSnapshot

DEFS_KEY = "video_dagster/graph_snapshot"
FINGERPRINT_KEY = "video/graph_fingerprint"
PIPELINE_COUNT_KEY = "video/pipelines"
NODE_COUNT_KEY = "video/nodes"


@dataclass(frozen=True)
class PipelineGraphLoader(StateBackedDefinitionsLoader[str]):
    """Fetches the graph snapshot at initialization only; state is `GraphSnapshot.to_json()`."""

    fetch_snapshot: Callable[[], GraphSnapshot]
    """Production: `video_dagster.db.snapshot.load_graph_snapshot`; tests pass a fake."""

    defs_key = DEFS_KEY

    def build_defs(self) -> Definitions:
        """Dagster's state-backed build, with the cyclic garbage collector handled (see below)."""
        with collector_paused():
            return super().build_defs()

    def fetch_state(self) -> str:
        """Read the structure from the database (initialization only)."""
        return self.fetch_snapshot().to_json()

    def defs_from_state(self, state: str) -> Definitions:
        """Build the node assets and tag the Definitions with the snapshot's fingerprint."""
        snapshot = GraphSnapshot.from_json(state)
        return Definitions(
            assets=build_node_assets(snapshot),
            metadata={
                FINGERPRINT_KEY: snapshot.fingerprint,
                PIPELINE_COUNT_KEY: len(snapshot.pipelines),
                NODE_COUNT_KEY: sum(len(p.nodes) for p in snapshot.pipelines),
            },
        )


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic GC while the graph is built, then freeze what was built.

    The build allocates millions of long-lived container objects and almost no garbage, so every
    collection the allocations trigger scans a growing heap for nothing (~40% of the load at
    10k+ nodes). Afterwards the graph lives as long as the process: frozen, later collections
    (Dagster's own processing of the definitions, the server's lifetime) skip it.
    bench/definitions_load.py measures this against the default collector.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


def current_fingerprint(defs: Definitions) -> str | None:
    """The fingerprint of the snapshot `defs` was built from (None if not built by the loader)."""
    value = defs.metadata.get(FINGERPRINT_KEY)
    return None if value is None else str(value.value)
