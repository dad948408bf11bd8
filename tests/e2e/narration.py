"""Helpers for the narration tests: providers on the emulators, the pipeline, running it."""

from __future__ import annotations

import sqlalchemy as sa
from dagster import AssetKey

from tests.e2e.conftest import graph_defs
from video_dagster.db import editing, transfer
from video_dagster.domain.keys import asset_key_path
from video_dagster.resources.providers.resource import ProvidersResource

SCRIPT = "Welcome to the show. Today we look at pipelines. Thanks for watching!"
KEY = "emulator-key"


def providers(emus, **overrides) -> ProvidersResource:
    """Emulators addressed like real endpoints (explicit key and URL), with fast polling."""
    settings = dict(elevenlabs_api_key=KEY, elevenlabs_base_url=emus.elevenlabs_url,
                    heygen_api_key=KEY, heygen_base_url=emus.heygen_url, emulate="never",
                    heygen_poll_interval=0.05, heygen_poll_max_interval=0.2,
                    retry_base_delay=0.01, retry_max_delay=0.2, retry_attempts=4, timeout=10.0)
    return ProvidersResource(**{**settings, **overrides})


def narration_doc(script: str = SCRIPT, **voice_config) -> dict:
    return {"title": "narration", "nodes": [
        {"id": "s", "title": "Script", "type": "asset",
         "asset": {"type": "text", "content": script}},
        {"id": "v", "title": "Voice", "type": "generate-voiceover", "inputs": {"script": "s"},
         "config": {"provider": "elevenlabs", **voice_config}},
        {"id": "h", "title": "Head", "type": "talking-head", "inputs": {"audio": ["v"]},
         "config": {"provider": "heygen", "avatarId": "Monica_inSleeveless_20220819",
                    "width": 1280, "height": 720}},
    ]}


def run(engine, resources, instance, doc=None, pid=None, tags=None):
    if pid is None:
        with engine.begin() as conn:
            pid = transfer.import_pipeline(conn, doc or narration_doc())
    with engine.connect() as conn:
        nodes = editing.list_nodes(conn, pid)
    keys = [AssetKey(asset_key_path(pid, n.id, n.type)) for n in nodes]
    job = graph_defs(engine, resources).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=keys, instance=instance,
                                    raise_on_error=False, tags=tags)
    return pid, result


def nodes(engine, pid):
    with engine.connect() as conn:
        return {n.title: n for n in editing.list_nodes(conn, pid)}


def pipeline_meta(engine, pid):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT metadata FROM video_production_pipelines "
                                    "WHERE id = :id"), {"id": pid}).scalar_one()
