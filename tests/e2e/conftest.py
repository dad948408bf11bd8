"""Fixtures for end-to-end runs through the real asset graph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions

from video_dagster.assets.translator import build_node_assets
from video_dagster.db.snapshot import read_graph_snapshot
from video_dagster.emulators.server import Emulators, running
from video_dagster.resources.database import DatabaseResource
from video_dagster.resources.lambda_invoker import LambdaInvokerResource
from video_dagster.resources.object_store import LocalObjectStore, ObjectStoreResource
from video_dagster.resources.providers.resource import ProvidersResource


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
def store(store_root: Path) -> LocalObjectStore:
    return LocalObjectStore(store_root, "video-dagster")


@pytest.fixture
def resources(db_url: str, store_root: Path, tmp_path: Path) -> dict[str, object]:
    return {
        "database": DatabaseResource(url=db_url),
        "object_store": ObjectStoreResource(backend="local", local_root=str(store_root)),
        "lambda_invoker": LambdaInvokerResource(mode="local", log_dir=str(tmp_path / "lambda")),
        "providers": ProvidersResource(),
    }


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as inst:
        yield inst


def graph_defs(engine, resources) -> Definitions:
    """Definitions built from the database right now (what a code-server load does)."""
    return Definitions(assets=build_node_assets(read_graph_snapshot(engine)), resources=resources)


@pytest.fixture
def emus() -> Iterator[Emulators]:
    """The ElevenLabs and HeyGen emulators on loopback, fresh per test (key `emulator-key`)."""
    with running("emulator-key") as emulators:
        yield emulators
