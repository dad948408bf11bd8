"""The loader queries the database once per code-server load; run workers replay stored state."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dagster import Definitions
from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)
from dagster._core.definitions.metadata.metadata_value import (
    CodeLocationReconstructionMetadataValue,
)
from dagster._core.definitions.reconstruct import repository_def_from_target_def
from dagster._core.definitions.repository_definition import RepositoryLoadData
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._grpc.client import DagsterGrpcClient
from dagster_shared.serdes import deserialize_value, serialize_value

from tests.dagster.graph_fixture import example_snapshot, render_graph, with_stub_resources
from video_dagster.assets.loader import (
    DEFS_KEY,
    FINGERPRINT_KEY,
    NODE_COUNT_KEY,
    PIPELINE_COUNT_KEY,
    PipelineGraphLoader,
    current_fingerprint,
)
from video_dagster.domain.snapshot import GraphSnapshot


class OneShotFetch:
    """Stands in for the database read; a second call means a run worker queried the graph."""

    def __init__(self, snapshot: GraphSnapshot) -> None:
        self.snapshot = snapshot
        self.calls = 0

    def __call__(self) -> GraphSnapshot:
        self.calls += 1
        if self.calls > 1:
            raise AssertionError("the graph snapshot was fetched a second time")
        return self.snapshot


def _load(load_type: DefinitionsLoadType, loader: PipelineGraphLoader,
          load_data: RepositoryLoadData | None = None) -> tuple[Definitions, RepositoryLoadData]:
    """Load like a code server (INITIALIZATION) or a run worker (RECONSTRUCTION) would."""
    context = DefinitionsLoadContext(load_type=load_type, repository_load_data=load_data)
    with DefinitionsLoadContext.scoped(context):
        # Module-level `defs` of definitions.py: the loader's output merged with resources.
        defs = with_stub_resources(loader.build_defs())
        # What the code server does with a module's Definitions (attaches the load data).
        repo = repository_def_from_target_def(defs)
    assert repo is not None and repo.repository_load_data is not None
    return defs, repo.repository_load_data


@pytest.fixture
def initialized() -> tuple[OneShotFetch, PipelineGraphLoader, Definitions, RepositoryLoadData]:
    fetch = OneShotFetch(example_snapshot())
    loader = PipelineGraphLoader(fetch_snapshot=fetch)
    defs, load_data = _load(DefinitionsLoadType.INITIALIZATION, loader)
    return fetch, loader, defs, load_data


def test_initialization_fetches_once_and_stores_the_snapshot(initialized) -> None:
    fetch, _loader, defs, load_data = initialized
    assert fetch.calls == 1
    stored = load_data.reconstruction_metadata[DEFS_KEY]
    assert isinstance(stored, CodeLocationReconstructionMetadataValue)
    assert deserialize_value(stored.data) == example_snapshot().to_json()
    assert isinstance(defs.metadata[DEFS_KEY], CodeLocationReconstructionMetadataValue)


def test_reconstruction_builds_the_identical_graph_without_fetching(initialized) -> None:
    fetch, loader, defs, load_data = initialized
    # The load data crosses a process boundary to the run worker as serialized text.
    shipped = deserialize_value(serialize_value(load_data), RepositoryLoadData)

    rebuilt, _ = _load(DefinitionsLoadType.RECONSTRUCTION, loader, shipped)

    assert fetch.calls == 1
    assert render_graph(rebuilt) == render_graph(defs)
    assert current_fingerprint(rebuilt) == current_fingerprint(defs)


def test_reconstruction_of_a_fresh_loader_never_calls_fetch(initialized) -> None:
    *_, load_data = initialized

    def unreachable() -> GraphSnapshot:
        raise AssertionError("run workers must not query the database")

    rebuilt, _ = _load(
        DefinitionsLoadType.RECONSTRUCTION, PipelineGraphLoader(unreachable), load_data
    )
    assert len(render_graph(rebuilt)["assets"]) == 14


def test_reconstruction_without_stored_state_would_fetch(initialized) -> None:
    fetch, loader, *_ = initialized
    # Guards the tests above: the harness does notice a fetch during reconstruction.
    with pytest.raises(AssertionError, match="second time"):
        _load(DefinitionsLoadType.RECONSTRUCTION, loader, RepositoryLoadData())
    assert fetch.calls == 2


def test_fingerprint_and_counts_are_definitions_metadata(initialized) -> None:
    *_, defs, _load_data = initialized
    snapshot = example_snapshot()
    assert current_fingerprint(defs) == snapshot.fingerprint
    assert defs.metadata[PIPELINE_COUNT_KEY].value == 2
    assert defs.metadata[NODE_COUNT_KEY].value == 14
    assert current_fingerprint(Definitions()) is None


def test_fingerprint_travels_in_the_repository_snapshot_served_by_the_code_server(
    initialized,
) -> None:
    *_, defs, _load_data = initialized
    # What `DagsterGrpcClient.external_repository(...)` returns to a webserver or a refresher.
    wire = serialize_value(RepositorySnap.from_def(defs.get_repository_def(), defer_snapshots=True))
    snap = deserialize_value(wire, RepositorySnap)
    assert snap.metadata is not None
    assert snap.metadata[FINGERPRINT_KEY].value == example_snapshot().fingerprint


def test_snapshot_json_keeps_the_asdict_format_and_the_fingerprint() -> None:
    snapshot = example_snapshot()
    # The JSON is built by hand for speed; it must stay byte-identical to what asdict produced,
    # or every deployed fingerprint changes and each location reloads for nothing.
    by_asdict = json.dumps(dataclasses.asdict(snapshot), sort_keys=True, separators=(",", ":"))
    assert snapshot.to_json() == by_asdict
    assert snapshot.fingerprint == "0e40b8a2e6a9fcdd"  # computed by the asdict implementation
    assert GraphSnapshot.from_json(by_asdict) == snapshot
    assert GraphSnapshot(pipelines=()).to_json() == '{"pipelines":[]}'


def test_snapshot_json_and_fingerprint_are_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = example_snapshot()
    calls = []
    real_dumps = json.dumps
    monkeypatch.setattr(json, "dumps", lambda *a, **k: calls.append(1) or real_dumps(*a, **k))
    assert snapshot.fingerprint == snapshot.fingerprint
    assert snapshot.to_json() is snapshot.to_json()
    assert len(calls) == 1
    # Cached values are not fields: equality and hashing still compare the structure only.
    assert snapshot == example_snapshot() and hash(snapshot) == hash(example_snapshot())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refresher_reads_the_fingerprint_from_a_real_code_server(tmp_path: Path) -> None:
    target = tmp_path / "video_location.py"
    target.write_text(textwrap.dedent("""
        from tests.dagster.graph_fixture import example_snapshot, with_stub_resources
        from video_dagster.assets.loader import PipelineGraphLoader

        loader = PipelineGraphLoader(fetch_snapshot=example_snapshot)
        defs = with_stub_resources(loader.build_defs())
    """))
    host, port = "127.0.0.1", _free_port()
    root = Path(__file__).resolve().parents[2]
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster", "api", "grpc", "--python-file", str(target),
         "--working-directory", str(root), "--host", host, "--port", str(port),
         "--location-name", "video"],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        client = DagsterGrpcClient(host=host, port=port)
        deadline = time.monotonic() + 90
        while True:
            try:
                client.ping("")
                break
            except Exception:
                assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "code server did not start"
                time.sleep(0.3)
        # The call documented in loader.py for the refresher.
        origin = RemoteRepositoryOrigin(
            GrpcServerCodeLocationOrigin(host, port, location_name="video"), "__repository__"
        )
        snap = deserialize_value(client.external_repository(origin, defer_snapshots=True))
        assert isinstance(snap, RepositorySnap), snap
        assert snap.metadata is not None
        assert snap.metadata[FINGERPRINT_KEY].value == example_snapshot().fingerprint
        assert len(snap.asset_nodes) == 14
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_build_runs_without_cyclic_gc_and_freezes_the_graph() -> None:
    seen: list[bool] = []

    def fetch() -> GraphSnapshot:
        seen.append(gc.isenabled())
        return example_snapshot()

    gc.unfreeze()
    assert gc.isenabled()
    try:
        defs, _ = _load(DefinitionsLoadType.INITIALIZATION, PipelineGraphLoader(fetch))
        assert seen == [False], "the collector is paused during the build"
        assert gc.isenabled(), "and enabled again afterwards"
        assert gc.get_freeze_count() > 0, "what was built is frozen (never scanned again)"
        assert defs.metadata[NODE_COUNT_KEY].value > 0
    finally:
        gc.unfreeze()
