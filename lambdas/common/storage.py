"""Streaming transfers for s3:// and file:// URIs, and the callback writer."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdas.common.errors import InputNotFound, InternalError
from lambdas.common.uris import ObjectUri, parse_uri

# Bounded transfers: at most CONCURRENCY parts of CHUNK bytes are in memory at once.
_CHUNK = 8 * 1024 * 1024
_CONCURRENCY = 4
_MISSING_CODES = {"404", "403", "NoSuchKey", "NoSuchBucket", "AccessDenied", "NotFound"}


class Storage:
    """Moves whole objects between URIs and local files without holding them in memory."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self._endpoint_url = endpoint_url
        self._client: Any = None

    def s3(self) -> Any:
        """The S3 client, created on first use (file:// work never imports boto3)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            endpoint = self._endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
            config = Config(retries={"mode": "standard", "max_attempts": 5})
            self._client = boto3.client("s3", endpoint_url=endpoint, config=config)
        return self._client

    def local_path(self, uri: str | ObjectUri, dest: Path) -> Path:
        """A readable local file: a file:// path as is, an S3 object downloaded to dest."""
        target = _as_uri(uri)
        if target.scheme == "file":
            path = Path(target.key)
            if not path.is_file():
                raise InputNotFound(f"input not found: {target}")
            return path
        return self.download(target, dest)

    def download(self, uri: str | ObjectUri, dest: Path) -> Path:
        """Copy the object to dest in chunks; raise InputNotFound when it does not exist."""
        source = _as_uri(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.scheme == "file":
            try:
                shutil.copyfile(source.key, dest)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise InputNotFound(f"input not found: {source}") from None
            return dest
        from botocore.exceptions import ClientError

        try:
            self.s3().download_file(source.bucket, source.key, str(dest), Config=_transfer())
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_CODES:
                raise InputNotFound(f"input not found: {source} ({code})") from None
            raise InternalError(f"could not download {source}: {exc}") from exc
        return dest

    def upload(self, src: Path, uri: str | ObjectUri, *, move: bool = False) -> None:
        """Store a local file at uri; with move=True a same-disk file:// target is a rename."""
        target = _as_uri(uri)
        if target.scheme == "s3":
            extra = {"ContentType": _content_type(target.suffix)}
            self.s3().upload_file(
                str(src), target.bucket, target.key, ExtraArgs=extra, Config=_transfer()
            )
            return
        dest = Path(target.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if move:
            try:
                os.replace(src, dest)
                return
            except OSError:
                pass  # another filesystem: fall back to copy + atomic rename
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
        try:
            shutil.copyfile(src, partial)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)

    def exists(self, uri: str | ObjectUri) -> bool:
        """Whether an object is stored at uri."""
        target = _as_uri(uri)
        if target.scheme == "file":
            return Path(target.key).is_file()
        from botocore.exceptions import ClientError

        try:
            self.s3().head_object(Bucket=target.bucket, Key=target.key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_CODES:
                return False
            raise
        return True

    def write_json(self, uri: str | ObjectUri, body: Mapping[str, Any]) -> None:
        """Write a small JSON object; readers never see a partial file."""
        target = _as_uri(uri)
        data = json.dumps(body, sort_keys=True).encode()
        if target.scheme == "s3":
            self.s3().put_object(
                Bucket=target.bucket, Key=target.key, Body=data, ContentType="application/json"
            )
            return
        dest = Path(target.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
        try:
            partial.write_bytes(data)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)


def write_callback(
    callback_uri: str, body: Mapping[str, Any], endpoint_url: str | None = None
) -> None:
    """Write a callback body to callback_uri (s3:// or file://)."""
    Storage(endpoint_url).write_json(callback_uri, body)


def _as_uri(uri: str | ObjectUri) -> ObjectUri:
    return uri if isinstance(uri, ObjectUri) else parse_uri(uri)


def _transfer() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=_CHUNK, multipart_chunksize=_CHUNK, max_concurrency=_CONCURRENCY
    )


def _content_type(suffix: str) -> str:
    types = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
             ".mkv": "video/x-matroska", ".json": "application/json"}
    return types.get(suffix, "application/octet-stream")
