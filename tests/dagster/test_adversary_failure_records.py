"""Adversarial AWS on-failure records: none may stay behind to be re-read every tick."""

from __future__ import annotations

import json
import os
from pathlib import Path

import sqlalchemy as sa

from tests.dagster.test_lambda_failures import record
from tests.db.helpers import make_node, make_pipeline, node_row
from video_dagster.assets.lambda_failures import FAILURE_PREFIX, consume_pending
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.resources.object_store import LocalObjectStore


def _started(engine: sa.Engine) -> tuple[str, str]:
    node = make_node(engine, make_pipeline(engine))
    process = Lifecycle(engine).started(node).process_uuid
    assert process is not None
    return node, process


def test_a_nul_in_the_error_still_fails_the_node(engine: sa.Engine, tmp_path: Path) -> None:
    # A crashed runtime's message may hold any bytes; PostgreSQL's jsonb refuses NUL.
    store = LocalObjectStore(tmp_path, "b")
    node, process = _started(engine)
    body = record(node, process, response={"errorMessage": "core dumped\x00\x00 garbage",
                                           "errorType": "Runtime.ExitError"})
    body["requestContext"]["condition"] = "RetriesExhausted" + "!" * 100_000
    store.put_bytes(f"{FAILURE_PREFIX}f/2026/12/01/nul", json.dumps(body).encode())
    [done] = consume_pending(store, Lifecycle(engine), 10)
    assert done.problem is None, done.problem
    row = node_row(engine, node)
    assert row.status == "failed" and row.metadata["error_type"] == "LambdaCrashed"
    assert "core dumped" in row.metadata["error"] and len(row.metadata["error"]) < 2000
    assert list(store.list(FAILURE_PREFIX)) == []


def test_poisoned_records_are_quarantined_not_retried_forever(engine: sa.Engine,
                                                               tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, "b")
    node, _ = _started(engine)
    huge_int = b'{"requestContext": {}, "requestPayload": {}, "n": ' + b"7" * 5000 + b"}"
    store.put_bytes(f"{FAILURE_PREFIX}f/2026/12/01/digits", huge_int)
    # A valid key whose quarantine/lambda-failures/ twin would be longer than 1,024 bytes.
    long_key = FAILURE_PREFIX + "/".join(["d" * 200] * 5)[: 1020 - len(FAILURE_PREFIX)]
    store.put_bytes(long_key, b"{garbage")
    for _ in range(2):  # a second tick finds nothing left
        consume_pending(store, Lifecycle(engine), 10)
    assert list(store.list(FAILURE_PREFIX)) == []
    assert len(list(store.list("quarantine/"))) == 2
    assert node_row(engine, node).status == "in_progress"


def test_a_record_with_a_non_utf8_file_name_is_quarantined(engine: sa.Engine,
                                                           tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, "b")
    folder = store.path(f"{FAILURE_PREFIX}f")
    folder.mkdir(parents=True)
    with open(os.fsencode(folder) + b"/bad-\xff-name", "wb") as fh:
        fh.write(b"{garbage")
    [done] = consume_pending(store, Lifecycle(engine), 10)
    assert done.quarantined is not None and "%FF" in done.quarantined
    assert list(store.list(FAILURE_PREFIX)) == []
