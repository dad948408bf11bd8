"""`video-dagster preview NODE`: a link made on demand (file or presigned S3), never stored."""

from __future__ import annotations

import json

import boto3
import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import use_fake_aws
from video_dagster import cli
from video_dagster.db import editing
from video_dagster.db.lifecycle import Lifecycle
from video_dagster.resources.object_store import ObjectStoreResource

KEY = "pipelines/p/nodes/n/out.mp4"


def _completed_node(engine) -> str:
    with engine.begin() as conn:
        pid = editing.create_pipeline(conn, "Preview")
        nid = editing.create_node(conn, pid, "Clip", "asset",
                                  asset={"type": "video", "s3Key": "library/x.mp4"})
    lc = Lifecycle(engine)
    process = lc.started(nid).process_uuid
    lc.succeeded(nid, {"type": "video", "s3Key": KEY}, process)
    return nid


def _stored(engine) -> str:
    with engine.connect() as conn:
        return json.dumps([list(r) for r in conn.execute(sa.text(
            "SELECT metadata, output FROM video_production_nodes"))], default=str)


def test_local_store_prints_the_file_uri(db_url, engine, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("VIDEO_DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("VIDEO_PREVIEW_URL", raising=False)
    monkeypatch.delenv("VIDEO_STORE_BACKEND", raising=False)
    nid = _completed_node(engine)
    assert cli.main(["preview", nid[:8]]) == 1  # nothing stored yet: a clear refusal
    assert "is not in the store" in capsys.readouterr().err
    store = ObjectStoreResource(backend="local").get_store()
    store.put_bytes(KEY, b"video", content_type="video/mp4")
    assert cli.main(["preview", nid[:8]]) == 0
    uri = capsys.readouterr().out.strip()
    assert uri.startswith("file://") and uri.endswith(KEY)


def test_s3_link_is_presigned_on_demand_and_never_stored(db_url, engine, monkeypatch, tmp_path,
                                                         capsys, moto_endpoint):
    use_fake_aws(monkeypatch, tmp_path, "preview-secret")
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    if "vd-preview" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="vd-preview")
    s3.put_object(Bucket="vd-preview", Key=KEY, Body=b"video bytes")
    for name, value in {"DATABASE_URL": db_url, "VIDEO_STORE_BACKEND": "s3",
                        "VIDEO_STORE_BUCKET": "vd-preview", "VIDEO_STORE_ENDPOINT_URL":
                        moto_endpoint, "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("VIDEO_PREVIEW_URL", raising=False)
    nid = _completed_node(engine)
    before = _stored(engine)
    assert cli.main(["preview", nid, "--expires", "60"]) == 0
    link = capsys.readouterr().out.strip()
    assert ("X-Amz-Signature=" in link and "Expires=" in link) or "X-Amz-Expires=60" in link
    assert httpx.get(link).content == b"video bytes"
    assert _stored(engine) == before  # printed, never persisted
    assert "preview-secret" not in before


@pytest.mark.parametrize("target", ["zz", "00000000"])
def test_unknown_nodes_are_refused(db_url, monkeypatch, capsys, target):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert cli.main(["preview", target]) == 1
    assert capsys.readouterr().err.count("error:") == 1
