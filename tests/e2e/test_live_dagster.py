"""The live system as a user sees it: `video-dagster dev`, real webserver, daemon and sensors.

One Dagster instance for the whole module (2 cores: keep it to one). Nothing is pressed in the UI:
pipelines are written to the database after the UI is up, and the `video_control` refresher, the
validation and ready-node sensors, the run launcher and the asset bodies do the rest. Then a
re-render through `video-dagster rerender`, a run terminated through GraphQL, a run whose step
worker crashes (the run-failure sensor must fail its node), the automatic retry of both failed
nodes, and Ctrl-C while those retries wait: it must stop every process `dev` started and leave
no node in progress.

Merge nodes run in `aws` Lambda mode against a stub `Invoke` endpoint on loopback that accepts
the event and never calls back, so they stay waiting until we end their runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.e2e._live import (
    DevProcess,
    StubLambdaEndpoint,
    describe,
    free_port,
    video_dagster_command,
    wait_for,
)
from video_dagster import settings
from video_dagster.cli import EXAMPLES_DIR
from video_dagster.db import engine as db_engine
from video_dagster.db import transfer
from video_dagster.domain.keys import asset_key_path
from video_dagster.resources.object_store import LocalObjectStore

STARTUP_TIMEOUT = 90.0
FLOW_TIMEOUT = 120.0  # import → reload → validate → ready sensor → run → completed
STOP_TIMEOUT = 40.0

NODES = sa.text(
    """
    SELECT n.id::text AS id, n.pipeline_id::text AS pipeline_id, p.title AS pipeline, n.title,
           n.type, n.status, n.is_valid, n.process_uuid::text AS process_uuid, n.failures,
           n.attempt, n.output, n.metadata
    FROM video_production_nodes n JOIN video_production_pipelines p ON p.id = n.pipeline_id
    ORDER BY p.title, n.title
    """
)
EVENTS = sa.text(
    """
    SELECT event, applied, from_status, to_status, process_uuid::text AS process_uuid, detail
    FROM video_production_node_events WHERE node_id = CAST(:id AS uuid) ORDER BY id
    """
)

ASSET_KEYS = "{ assetNodes { assetKey { path } } }"
RUNS = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status tags { key value } assetSelection { path } } }
    ... on PythonError { message }
  }
}
"""
BACKFILLS = """
{
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills {
      results { id status title tags { key value } assetSelection { path } }
    }
    ... on PythonError { message }
  }
}
"""
LOGS_CAPTURED = """
query($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on LogsCapturedEvent { pid stepKeys } } }
  }
}
"""
TERMINATE = """
mutation($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


def _with_database(server_url: str, name: str) -> str:
    return make_url(settings.sqlalchemy_url(server_url)).set(database=name).render_as_string(
        hide_password=False)


@dataclass
class Live:
    """The running system and what the test needs to talk to it."""

    dev: DevProcess
    engine: sa.Engine
    env: dict[str, str]
    home: Path
    lambda_stub: StubLambdaEndpoint

    def nodes(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(NODES))

    def by_title(self, pipeline_id: str) -> dict[str, Any]:
        return {n.title: n for n in self.nodes() if n.pipeline_id == pipeline_id}

    def events(self, node_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(EVENTS, {"id": node_id}))

    def context(self) -> str:
        """What a failure message shows: the node rows and the end of the dev log."""
        try:
            rows = "\n".join(
                f"  {n.pipeline[:18]:18} {n.title[:30]:30} {n.type:14} {n.status:11} "
                f"valid={n.is_valid} failures={n.failures} process={n.process_uuid} "
                f"run={(n.metadata or {}).get('dagster_run_id')} "
                f"stage={(n.metadata or {}).get('stage')} "
                f"error={str((n.metadata or {}).get('error'))[:120]}"
                for n in self.nodes())
            rows += "".join(
                f"\n    {n.title}: {e.event} applied={e.applied} {e.from_status}->{e.to_status} "
                f"process={e.process_uuid} {json.dumps(e.detail)[:160]}"
                for n in self.nodes() if n.status not in ("completed", "pending")
                for e in self.events(n.id))
        except Exception as exc:  # the failure may be the database itself
            rows = f"  <cannot read nodes: {exc}>"
        return (f"--- nodes ---\n{rows}\n--- lambda stub: {len(self.lambda_stub.invocations)} "
                f"invocation(s) ---\n--- dev log {self.dev.log_path} (tail) ---\n"
                f"{self.dev.tail(80)}")

    def wait(self, what: str, probe: Any, timeout: float = FLOW_TIMEOUT) -> Any:
        def checked() -> Any:
            self.dev.check_alive()
            return probe()
        return wait_for(what, checked, timeout, self.context)

    def import_doc(self, doc: dict[str, Any]) -> str:
        """What the editor does: write a pipeline straight into the shared database."""
        with self.engine.begin() as conn:
            return transfer.import_pipeline(conn, doc)


@pytest.fixture(scope="module")
def databases(pg_server: str, _admin: sa.Engine, template_db: str) -> Iterator[tuple[str, str]]:
    """(video database from the migrated template, empty database for Dagster's storage)."""
    suffix = uuid.uuid4().hex[:10]
    video, dagster = f"vd_live_{suffix}", f"vd_live_dagster_{suffix}"
    with _admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{video}" TEMPLATE "{template_db}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{dagster}"'))
    video_url = _with_database(pg_server, video)
    yield video_url, _with_database(pg_server, dagster)
    db_engine.get_engine(video_url).dispose()
    with _admin.connect() as conn:
        for name in (video, dagster):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def live(databases: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`video-dagster dev` on a free port, up and answering GraphQL."""
    video_url, dagster_url = databases
    root = tmp_path_factory.mktemp("live")
    home, dagster_home = root / "home", root / "dagster"
    home.mkdir()
    dagster_home.mkdir()
    port = free_port()
    with StubLambdaEndpoint() as stub:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "VIDEO_", "DAGSTER_"))
               and k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
        env.update({
            "DATABASE_URL": video_url,
            "DAGSTER_PG_URL": settings.psycopg2_url(dagster_url),
            "DAGSTER_HOME": str(dagster_home),
            "VIDEO_DAGSTER_HOME": str(home),
            # No DAGSTER_GRAPHQL_URL: `dev` must point the refresher at its own (free) port.
            "PYTHONUNBUFFERED": "1",
            # Merge nodes: the real AWS invoker (InvocationType=Event) against the stub.
            "VIDEO_LAMBDA_MODE": "aws",
            "AWS_ENDPOINT_URL_LAMBDA": stub.url,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": str(root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        dev = DevProcess.start(port, env, root / "dev.log")
        system = Live(dev, db_engine.get_engine(video_url), env, home, stub)
        try:
            started = time.monotonic()
            system.wait("the webserver to answer GraphQL",
                        lambda: dev.graphql("{ __typename }", timeout=5).get("__typename"),
                        STARTUP_TIMEOUT)
            print(f"\n[live] UI up after {time.monotonic() - started:.1f}s on port {port}")
            yield system
        finally:
            if dev.proc.poll() is None or dev.tree():
                dev.kill_everything()


def _merge_doc(title: str, store: LocalObjectStore) -> dict[str, Any]:
    keys = [f"library/live/{uuid.uuid4().hex[:8]}_{c}.mp4" for c in "ab"]
    for key in keys:
        store.put_bytes(key, b"never decoded: the Lambda stub does not run", "video/mp4")
    clips = [{"id": c, "title": f"Clip {c.upper()}", "type": "asset",
              "asset": {"type": "video", "s3Key": key}} for c, key in zip("ab", keys, strict=True)]
    return {"title": title, "nodes": [
        *clips,
        {"id": "m", "title": "Merged", "type": "merge-videos",
         "inputs": {"segments": ["a", "b"]}, "config": {"provider": "ffmpeg"}},
    ]}


def _runs(live: Live, **filter_: Any) -> list[dict[str, Any]]:
    result = live.dev.graphql(RUNS, {"filter": filter_})["runsOrError"]
    assert result["__typename"] == "Runs", result
    return list(result["results"])


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def _step_workers(live: Live, run_id: str) -> list[psutil.Process]:
    """The step processes of `run_id`: the pids its LOGS_CAPTURED events name, in our tree."""
    result = live.dev.graphql(LOGS_CAPTURED, {"runId": run_id})["logsForRun"]
    pids = {e["pid"] for e in result.get("events", []) if e.get("pid")}
    return [p for p in live.dev.tree() if p.pid in pids]


ASSET_CHECK = """
query($key: AssetKeyInput!, $check: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $check, limit: 1) {
    status evaluation { success metadataEntries { label } }
  }
}
"""
ASSET_EVENTS = """
query($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1) {
        metadataEntries {
          label
          ... on UrlMetadataEntry { url }
          ... on MarkdownMetadataEntry { mdStr }
          ... on TextMetadataEntry { text }
        }
      }
      assetObservations(limit: 1) {
        metadataEntries { label ... on TextMetadataEntry { text } }
      }
    }
  }
}
"""


def _check(live: Live, key: list[str], name: str) -> dict[str, Any] | None:
    found = live.dev.graphql(ASSET_CHECK, {"key": {"path": key}, "check": name})
    executions = found["assetCheckExecutions"]
    return executions[0] if executions else None


def _entries(live: Live, key: list[str], kind: str) -> dict[str, dict[str, Any]]:
    asset = live.dev.graphql(ASSET_EVENTS, {"key": {"path": key}})["assetOrError"]
    events = asset.get(kind) or [{"metadataEntries": []}]
    return {e["label"]: e for e in events[0]["metadataEntries"]}


def _ui_checks(live: Live, store: LocalObjectStore, text_pid: str, nodes: dict[str, Any]) -> None:
    """Readable keys, both checks evaluated, failure reasons and previews, through GraphQL."""
    import httpx

    from video_dagster.cli.demo import make_clips

    intro, broken = nodes["Intro script"], nodes["Voiceover missing its provider"]
    intro_key = asset_key_path(text_pid, intro.id, intro.type)
    broken_key = asset_key_path(text_pid, broken.id, broken.type)
    assert intro_key[-1].startswith("asset_") and broken_key[-1].startswith("voiceover_")
    for name in ("valid", "output"):
        execution = _check(live, intro_key, name)
        assert execution and execution["status"] == "SUCCEEDED", (name, execution)
    # The invalid node never ran: the node-checks sensor reported its `valid` check, failing.
    execution = live.wait("the invalid node's `valid` check to fail",
                          lambda: _check(live, broken_key, "valid"), 60)
    assert execution["status"] == "FAILED", execution
    assert {"error: provider"} <= {e["label"] for e in execution["evaluation"]["metadataEntries"]}

    # A video the operator can open, and a failure whose reason is on the asset itself.
    clip_key = "library/live/preview.mp4"
    with_clips = make_clips(live.home, seconds=1.0)
    store.put_file(clip_key, with_clips["library/demo/clip_a.mp4"], content_type="video/mp4")
    pid = live.import_doc({"title": "Live previews", "nodes": [
        {"id": "v", "title": "Preview clip", "type": "asset",
         "asset": {"type": "video", "s3Key": clip_key}},
        {"id": "g", "title": "Ghost clip", "type": "asset",
         "asset": {"type": "video", "s3Key": "library/live/missing.mp4"}}]})

    def settled() -> dict[str, Any] | None:
        now = live.by_title(pid)
        ok = now["Preview clip"].status == "completed" and now["Ghost clip"].status == "failed"
        return now if ok else None
    now = live.wait("the preview clip to complete and the ghost clip to fail", settled)
    clip, ghost = now["Preview clip"], now["Ghost clip"]
    meta = live.wait("the clip's materialization in the UI", lambda: _entries(
        live, asset_key_path(pid, clip.id, clip.type), "assetMaterializations") or None, 30)
    assert meta["dagster/uri"]["text"].endswith(clip_key), meta
    assert meta["poster"]["mdStr"].startswith("![Preview clip](data:image/jpeg;base64,"), meta
    assert meta["pipeline_progress"]["text"], meta
    answer = httpx.get(meta["preview"]["url"], timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
    assert answer.content[4:8] == b"ftyp" and answer.content == store.get_bytes(clip_key)
    reason = live.wait("the ghost clip's failure observation", lambda: _entries(
        live, asset_key_path(pid, ghost.id, ghost.type), "assetObservations") or None, 30)
    assert reason["status"]["text"] == "failed", reason
    assert "library/live/missing.mp4" in reason["error"]["text"], reason
    _browser_checks(live, text_pid, nodes, broken_key)


def _browser_checks(live: Live, text_pid: str, nodes: dict[str, Any],
                    broken_key: list[str]) -> None:
    """A real headless Chromium renders the group graph and the invalid node's checks page."""
    import shutil

    from video_dagster.domain.keys import group_name

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("\n[live] browser checks SKIPPED: no Chromium installed (Debian: apt-get install "
              "chromium)")
        return
    live.dev.graphql("mutation { setNuxSeen }")  # the one-time community dialog would cover all
    base = live.dev.graphql_url.removesuffix("/graphql")
    title = next(iter(nodes.values())).pipeline
    pages = {
        "group": (f"{base}/locations/video/asset-groups/{group_name(title, text_pid)}",
                  [asset_key_path(text_pid, n.id, n.type)[-1] for n in nodes.values()]),
        "checks": (f"{base}/assets/{'/'.join(broken_key)}?view=checks",
                   ["Checks (2)", "valid", "Failed", broken_key[-1]]),
    }
    folder = live.dev.log_path.parent / "screenshots"
    folder.mkdir(exist_ok=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--hide-scrollbars", "--window-size=1400,900", "--virtual-time-budget=20000"]
    for name, (url, expected) in pages.items():
        dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True,
                             text=True, timeout=120).stdout
        missing = [text for text in expected if text not in dom]
        assert not missing, f"{name} page ({url}) does not show {missing}"
        shot = folder / f"{name}.png"
        subprocess.run([browser, *flags, f"--screenshot={shot}", url], capture_output=True,
                       timeout=120, check=True)
        assert shot.stat().st_size > 20_000, shot  # a rendered page, not a blank one
        print(f"\n[live] {name} page rendered by Chromium: {shot}")


def test_live_dev_runs_pipelines_rerenders_reconciles_and_stops(live: Live) -> None:
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    store = LocalObjectStore(live.home / "objects", "video-dagster")

    # 1. Pipelines arrive after the UI is up, written the way the editor writes them.
    text_pid = live.import_doc(json.loads((EXAMPLES_DIR / "text_assets.json").read_text()))
    cancel_pid = live.import_doc(_merge_doc("Live merge (terminated)", store))
    crash_pid = live.import_doc(_merge_doc("Live merge (worker crash)", store))
    expected = {tuple(asset_key_path(n.pipeline_id, n.id, n.type)) for n in live.nodes()}
    assert len(expected) == 9

    # 2a. The video_control refresher reloads `video`: every new node is an asset in the UI.
    def keys_loaded() -> bool:
        loaded = {tuple(a["assetKey"]["path"]) for a in live.dev.graphql(ASSET_KEYS)["assetNodes"]}
        return expected <= loaded
    live.wait("the refresher to reload `video` with the new asset keys", keys_loaded)
    timings["graph reloaded"] = time.monotonic() - t0

    # 2b. Nobody presses anything: validation, the ready-node sensor and a run complete them.
    def text_done() -> dict[str, Any] | None:
        nodes = live.by_title(text_pid)
        done = all(nodes[t].status == "completed" for t in ("Intro script", "Outro script"))
        return nodes if done else None
    nodes = live.wait("the valid asset nodes to complete", text_done)
    timings["asset nodes completed"] = time.monotonic() - t0
    intro, outro = nodes["Intro script"], nodes["Outro script"]
    assert store.get_bytes(intro.output["s3Key"]) == b"Welcome to the show."
    assert json.loads(store.get_bytes(outro.output["s3Key"]))["lines"][0] == "Thanks for watching"
    broken = nodes["Voiceover missing its provider"]
    assert broken.status == "pending" and broken.is_valid is False
    auto_run = intro.metadata["dagster_run_id"]
    run = live.wait(f"run {auto_run} to succeed", lambda: next(
        (r for r in _runs(live, runIds=[auto_run]) if r["status"] == "SUCCESS"), None), 30)
    assert _tags(run)["video/trigger"] == "auto", run
    assert {tuple(k["path"]) for k in run["assetSelection"]} == {
        tuple(asset_key_path(text_pid, n.id, n.type)) for n in (intro, outro)
    }, "only valid nodes run"

    # 3. Re-render from the CLI: a backfill that re-executes the completed nodes.
    before = {t: nodes[t].process_uuid for t in ("Intro script", "Outro script")}
    rerender = subprocess.run(
        [*video_dagster_command(), "rerender", text_pid[:8], "--wait", "--timeout", "120",
         "--url", live.dev.graphql_url],
        env=live.env, capture_output=True, text=True, timeout=180)
    assert rerender.returncode == 0, rerender.stdout + rerender.stderr + live.context()
    backfill_id = rerender.stdout.split("backfill ", 1)[1].split()[0]
    assert f"{live.dev.graphql_url.removesuffix('/graphql')}/runs/b/{backfill_id}" in (
        rerender.stdout)
    assert "[####################] 2/2  0 failed  done" in rerender.stdout, rerender.stdout

    def backfill() -> dict[str, Any] | None:
        result = live.dev.graphql(BACKFILLS)["partitionBackfillsOrError"]
        return next((b for b in result.get("results", []) if b["id"] == backfill_id), None)
    found = live.wait(f"backfill {backfill_id} in partitionBackfillsOrError", backfill, 30)
    assert _tags(found)["video/rerender"] == "true", found
    assert _tags(found)["video/pipeline_id"] == text_pid, found
    assert found["title"] == "Re-render Script drafts", found

    # 3b. What the UI shows an operator (see _ui_checks).
    _ui_checks(live, store, text_pid, nodes)
    assert {tuple(k["path"]) for k in found["assetSelection"]} >= {
        tuple(asset_key_path(text_pid, n.id, n.type)) for n in (intro, outro)}

    # 4. Meanwhile the merge nodes started and wait for a Lambda that never calls back.
    def merges_waiting() -> dict[str, Any] | None:
        merged = {pid: live.by_title(pid)["Merged"] for pid in (cancel_pid, crash_pid)}
        waiting = all(m.status == "in_progress" and (m.metadata or {}).get("stage") == "submitted"
                      for m in merged.values())
        return merged if waiting else None
    merged = live.wait("both merge nodes to be submitted and waiting", merges_waiting)
    timings["merge nodes waiting"] = time.monotonic() - t0
    invoked = {i.event.get("node_uuid"): i for i in live.lambda_stub.invocations}
    for m in merged.values():
        call = invoked[m.id]
        # The deployed name under an empty VIDEO_LAMBDA_PREFIX (template.yaml's naming rule).
        assert call.function_name == "video-merger" and call.invocation_type == "Event", call
        assert call.event["process_uuid"] == m.process_uuid
        assert call.event["callback_uri"].endswith(f"{m.id}/{m.process_uuid}.json"), call.event

    # 4a. Terminate one waiting run from the UI's API.
    cancel_node = merged[cancel_pid]
    cancel_run = cancel_node.metadata["dagster_run_id"]
    result = live.dev.graphql(TERMINATE, {"runId": cancel_run})["terminateRun"]
    assert result["__typename"] == "TerminateRunSuccess", result

    # 4b. Crash the other: kill its step worker, nobody left to write the node's outcome.
    crash_node = merged[crash_pid]
    crash_run = crash_node.metadata["dagster_run_id"]
    workers = live.wait(f"the step worker of run {crash_run}",
                        lambda: _step_workers(live, crash_run), 20)
    for worker in workers:
        # An in-process run: its step worker is the run worker, forked by our code server's
        # forkserver (cli/code_server.py), not a spawned interpreter.
        forkserver = worker.parent()
        assert forkserver is not None and forkserver.parent() is not None, worker
        assert "multiprocessing.forkserver" in " ".join(forkserver.cmdline()), describe([worker])
        assert "video_dagster.cli.code_server" in " ".join(forkserver.parent().cmdline())
        worker.kill()

    def failed_by(node: Any) -> Any:
        def probe() -> Any:
            return next((e for e in live.events(node.id)
                         if e.event == "failed" and e.applied
                         and e.process_uuid == node.process_uuid), None)
        return probe
    canceled = live.wait("the terminated run's node to fail", failed_by(cancel_node))
    crashed = live.wait("the run-failure sensor to fail the crashed run's node",
                        failed_by(crash_node), 90)
    timings["runs reconciled"] = time.monotonic() - t0
    print(f"[live] terminated: {canceled.detail}\n[live] crashed: {crashed.detail}")
    assert canceled.from_status == "in_progress" and canceled.to_status == "failed"
    assert crashed.detail["error_type"] == "RunFailed", crashed.detail
    assert f"Dagster run {crash_run} FAILURE" in crashed.detail["error"], crashed.detail
    live.wait(f"run {cancel_run} to be CANCELED", lambda: next(
        (r for r in _runs(live, runIds=[cancel_run]) if r["status"] == "CANCELED"), None), 30)

    # 3 (end). The re-render finished: same nodes, new executions, completed again.
    def rerendered() -> dict[str, Any] | None:
        now = live.by_title(text_pid)
        redone = all(now[t].status == "completed" and now[t].process_uuid not in (None, old)
                     for t, old in before.items())
        return now if redone else None
    now = live.wait("the re-render to complete with new executions", rerendered)
    timings["re-render completed"] = time.monotonic() - t0
    backfill_runs = {r["runId"] for r in _runs(live, tags=[{"key": "dagster/backfill",
                                                          "value": backfill_id}])}
    for title in before:
        assert now[title].metadata["dagster_run_id"] in backfill_runs, now[title].metadata
        starts = [e for e in live.events(now[title].id) if e.event == "started" and e.applied]
        assert len(starts) == 2, starts
    assert now["Voiceover missing its provider"].status == "pending"
    done = live.wait(f"backfill {backfill_id} to finish", lambda: next(
        (b for b in [backfill()] if b and b["status"] not in ("REQUESTED", "CANCELING")), None))
    print(f"[live] backfill {backfill_id} ended {done['status']}")

    # 4c. Failed nodes are retried automatically: both merges start again and wait again.
    def retried() -> dict[str, Any] | None:
        again = {pid: live.by_title(pid)["Merged"] for pid in (cancel_pid, crash_pid)}
        waiting = all(
            m.status == "in_progress" and (m.metadata or {}).get("stage") == "submitted"
            and m.process_uuid != merged[pid].process_uuid for pid, m in again.items())
        return again if waiting else None
    retries = live.wait("the ready-node sensor to retry both failed merge nodes", retried)
    timings["merge nodes retried"] = time.monotonic() - t0
    for m in retries.values():
        [run] = _runs(live, runIds=[m.metadata["dagster_run_id"]])
        assert _tags(run)["video/trigger"] == "auto", run

    # 5. Ctrl-C: SIGINT to the group of `video-dagster dev` stops every process it started.
    sessions = live.dev.sessions()
    tree = live.dev.tree(sessions)
    names = describe(tree)
    # The daemon is ours (sensor rounds every second, cli/dagster_daemon.py), not Dagster's;
    # `video` is served by our code server (reloads in place), `video_control` by Dagster's.
    for part in ("dagster dev", "dagster_webserver", "video_dagster.cli.dagster_daemon run",
                 "video_dagster.cli.code_server --lazy-load-user-code", "code-server start"):
        assert part in names, f"{part} not running before the stop:\n{describe(tree)}"
    assert "-m dagster._daemon" not in names, describe(tree)
    stop_started = time.monotonic()
    os.killpg(live.dev.proc.pid, signal.SIGINT)

    def stop_context() -> str:
        return (f"dev exit code: {live.dev.proc.poll()}; still running:\n"
                f"{describe(live.dev.tree(sessions))}\n{live.context()}")
    wait_for(f"every process of `dev` to exit within {STOP_TIMEOUT:.0f}s of SIGINT",
             lambda: live.dev.proc.poll() is not None and not live.dev.tree(sessions),
             STOP_TIMEOUT, stop_context, interval=0.5)
    timings["stopped"] = time.monotonic() - t0
    # The executions Ctrl-C interrupted are ended, not left in progress.
    left_running = [n for n in live.nodes() if n.status == "in_progress"]
    assert not left_running, live.context()
    print(f"[live] stop took {time.monotonic() - stop_started:.1f}s; timings: "
          + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))

