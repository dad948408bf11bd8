"""The demo on S3 (moto) with temporary credentials stores no secret: logs, both databases, home."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from video_dagster import settings

ACCESS_KEY = "ASIAFAKESESSIONKEY42"
SECRET_KEY = "fake-secret-never-stored-7f3c9a"
SESSION_TOKEN = "FwoGZXIvYXdzEFAKESESSIONTOKENneverStored0123456789"


def _pg_dump(url: str) -> str:
    """The whole database as SQL text, by pg_dump (pgserver's, else the system one)."""
    import pgserver

    parsed = make_url(settings.sqlalchemy_url(url))
    # pgserver's pg_dump (16) dumps both its own server and an older system one; the system
    # pg_dump (15 here) refuses a newer server, which is what the suite starts without a URL.
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    exe = str(bundled) if bundled.exists() else shutil.which("pg_dump")
    assert exe, "no pg_dump: neither pgserver's nor the system's"
    host = parsed.host or parsed.query.get("host") or ""
    argv = [exe, "--no-owner", "-U", parsed.username or "postgres", "-h", str(host),
            "-d", str(parsed.database)]
    if parsed.port:
        argv += ["-p", str(parsed.port)]
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    return subprocess.run(argv, capture_output=True, text=True, check=True, env=env,
                          timeout=120).stdout


@pytest.mark.slow
def test_demo_with_session_credentials_stores_no_secret(db_url, _admin, moto_endpoint, tmp_path):
    bucket = f"demo-{uuid.uuid4().hex[:10]}"
    home = tmp_path / "home"
    home.mkdir()
    aws = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_SESSION_TOKEN": SESSION_TOKEN, "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(home / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials")}
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                 aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                 aws_session_token=SESSION_TOKEN).create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "DAGSTER_", "VIDEO_")) and k != "DATABASE_URL"}
    env.update(aws, HOME=str(home), VIDEO_DAGSTER_HOME=str(home / ".video-dagster"),
               DATABASE_URL=db_url, VIDEO_STORE_BACKEND="s3", VIDEO_STORE_BUCKET=bucket,
               VIDEO_STORE_ENDPOINT_URL=moto_endpoint)
    dagster_db = make_url(settings.sqlalchemy_url(db_url)).database + "_dagster"
    try:
        demo = subprocess.run([sys.executable, "-m", "video_dagster.cli", "demo"], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=600)
        (home / "demo.log").write_text(demo.stdout + demo.stderr)
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        dumps = {"video": _pg_dump(db_url),
                 "dagster": _pg_dump(make_url(settings.sqlalchemy_url(db_url)).set(
                     database=dagster_db).render_as_string(hide_password=False))}
    finally:
        with _admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dagster_db}" WITH (FORCE)'))
    found = []
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN):
        found += [f"{name} database x{text.count(secret)}" for name, text in dumps.items()
                  if secret in text]
        for path in home.rglob("*"):
            if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
                found.append(str(path.relative_to(home)))
    assert found == []
    assert "dagster/uri" in dumps["dagster"] and f"s3://{bucket}/pipelines/" in dumps["dagster"]
