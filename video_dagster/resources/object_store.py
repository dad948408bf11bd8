"""Object store: one interface, an S3 backend and a local-folder backend."""

from __future__ import annotations

import abc
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO, Literal, cast

from dagster import ConfigurableResource
from pydantic import Field

_MB = 1024 * 1024
# Temp files of in-flight local writes carry this prefix; keys may not, so `list` can skip them.
_TMP_PREFIX = ".vd-tmp-"


class ObjectStoreError(Exception):
    """A store operation failed; carries bucket, key and the backend's error code."""

    def __init__(self, message: str, *, bucket: str, key: str | None, code: str) -> None:
        super().__init__(f"{message} (bucket={bucket!r}, key={key!r}, code={code})")
        self.bucket, self.key, self.code = bucket, key, code


class ObjectNotFoundError(ObjectStoreError):
    """The key does not exist in the bucket."""


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of one stored object."""

    key: str
    size: int
    last_modified: datetime
    etag: str


# S3's limit on a key; most filesystems' limit on one path segment (ENAMETOOLONG beyond).
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255


def _short(key: str) -> str:
    return repr(key) if len(key) <= 80 else repr(key[:60]) + f"... ({len(key)} characters)"


def _checked_text(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"object key must be a non-empty string, got {_short(repr(key))}")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"object key is not valid Unicode: {_short(key)}") from None
    if size > MAX_KEY_BYTES:
        raise ValueError(f"object key is longer than {MAX_KEY_BYTES} bytes: {_short(key)}")
    return key


def validate_key(key: str) -> str:
    """Return `key` if it is safe on every backend, else raise ValueError."""
    _checked_text(key)
    if "\x00" in key:
        raise ValueError(f"object key contains NUL: {_short(key)}")
    if key.startswith("/"):
        raise ValueError(f"object key must be relative, got {key!r}")
    # Empty and "." segments would alias another key on a filesystem ("a//b" == "a/b").
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"object key has an empty, '.' or '..' segment: {key!r}")
        if part.startswith(_TMP_PREFIX):
            raise ValueError(f"object key segment may not start with {_TMP_PREFIX!r}: {key!r}")
        if len(part.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise ValueError(f"object key has a name longer than {MAX_SEGMENT_BYTES} bytes: "
                             f"{_short(key)}")
    return key


def listed_key(key: str) -> str:
    """A key as S3 may list it (`a//b`, `a/../b` are literal S3 keys): readable, deletable."""
    return _checked_text(key)


class ObjectStore(abc.ABC):
    """A bucket of objects addressed by key, named by URI outside this module."""

    bucket: str

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """The URI naming `key` (`s3://bucket/key` or `file:///root/bucket/key`)."""

    def key_from_uri(self, uri: str) -> str:
        """Inverse of `uri`; ValueError for another scheme or bucket."""
        prefix = self.uri("x")[:-1]
        if not isinstance(uri, str) or not uri.startswith(prefix):
            raise ValueError(f"URI {uri!r} is not in this store (expected prefix {prefix!r})")
        return validate_key(uri[len(prefix) :])

    @abc.abstractmethod
    def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str | None = None
    ) -> None:
        """Upload a local file, streaming."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store a small object from memory."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A readable binary stream of the object; the caller closes it."""

    @abc.abstractmethod
    def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Download to `path`, streaming; `path` appears complete or not at all."""

    def get_bytes(self, key: str) -> bytes:
        """Whole object in memory; for small objects such as callbacks."""
        with self.open_read(key) as stream:
            return stream.read()

    def exists(self, key: str) -> bool:
        """True if the key exists."""
        return self.stat(key) is not None

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Metadata of the object, or None if the key does not exist."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing key is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str = "", limit: int | None = None) -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, in key order, fetched lazily."""

    @abc.abstractmethod
    def move(self, key: str, dest: str) -> None:
        """Move an object (any key `list` returned) to a valid key; ObjectNotFoundError if gone."""

    @abc.abstractmethod
    def preview_url(self, key: str, expires_in: int = 3600) -> str:
        """A URL a person can open to see the object; made on demand, never to be stored."""

    def presign(self, key: str, expires_in: int = 3600) -> str:
        """Same as `preview_url`: a short-lived link, for the CLI `preview` command."""
        return self.preview_url(key, expires_in)


class S3ObjectStore(ObjectStore):
    """S3 or an S3-compatible endpoint; credentials come from the environment/profile only."""

    def __init__(
        self,
        bucket: str,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        profile_name: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        page_size: int = 1000,
        multipart_chunksize: int = 8 * _MB,
        max_concurrency: int = 4,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.page_size = page_size
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            signature_version="s3v4",  # presigned URLs would otherwise fall back to SigV2
            # MinIO/moto/LocalStack endpoints do not resolve bucket subdomains.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        session = boto3.session.Session(profile_name=profile_name, region_name=region_name)
        self.client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        # Bounded chunks x concurrency x IO queue keep memory flat whatever the object size.
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_chunksize,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
            max_io_queue=16,
            io_chunksize=256 * 1024,
            preferred_transfer_client="classic",
        )

    def __repr__(self) -> str:
        return f"S3ObjectStore(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{validate_key(key)}"

    def _error(
        self, exc: Exception, key: str | None, action: str, *, read: bool = False
    ) -> ObjectStoreError:
        from botocore.exceptions import ClientError

        # upload_file re-raises ClientError as S3UploadFailedError, keeping it as the context.
        cause = exc if isinstance(exc, ClientError) else exc.__cause__ or exc.__context__
        if isinstance(cause, ClientError):
            err = cause.response.get("Error", {})
            code = str(err.get("Code") or "Unknown")
            detail = err.get("Message") or code
        else:
            code, detail = type(exc).__name__, str(exc)
        if read and code in ("NoSuchKey", "404", "NotFound"):
            # HEAD has no body, so a 404 may also mean the bucket itself is missing.
            if code != "NoSuchKey" and not self._bucket_exists():
                code, detail = "NoSuchBucket", "the bucket does not exist"
            else:
                return ObjectNotFoundError(f"{action}: no such key", bucket=self.bucket, key=key,
                                           code="NoSuchKey")
        return ObjectStoreError(f"{action} failed: {detail}", bucket=self.bucket, key=key,
                                code=code)

    def _bucket_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            # Only a definite 404 says the bucket is missing; 403 or a network error says nothing.
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else ""
            return code not in ("404", "NoSuchBucket")
        return True

    def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str | None = None
    ) -> None:
        extra = {"ContentType": content_type} if content_type else None
        validate_key(key)
        try:
            self.client.upload_file(os.fspath(path), self.bucket, key,
                                    ExtraArgs=extra, Config=self.transfer_config)
        except Exception as exc:
            raise self._error(exc, key, "upload") from exc

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        validate_key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
        except Exception as exc:
            raise self._error(exc, key, "put") from exc

    def open_read(self, key: str) -> BinaryIO:
        listed_key(key)
        try:
            return cast(BinaryIO, self.client.get_object(Bucket=self.bucket, Key=key)["Body"])
        except Exception as exc:
            raise self._error(exc, key, "get", read=True) from exc

    def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        # s3transfer writes to a temporary name and renames, so `path` is never half-written.
        validate_key(key)
        try:
            self.client.download_file(self.bucket, key, os.fspath(path),
                                      Config=self.transfer_config)
        except Exception as exc:
            raise self._error(exc, key, "download", read=True) from exc

    def stat(self, key: str) -> ObjectInfo | None:
        listed_key(key)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            error = self._error(exc, key, "head", read=True)
            if isinstance(error, ObjectNotFoundError):
                return None
            raise error from exc
        return ObjectInfo(key, head["ContentLength"], head["LastModified"],
                          head["ETag"].strip('"'))

    def delete(self, key: str) -> None:
        listed_key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise self._error(exc, key, "delete") from exc

    def move(self, key: str, dest: str) -> None:
        listed_key(key)
        validate_key(dest)
        try:
            # Server-side copy: a poisoned object of any size never passes through memory.
            self.client.copy_object(Bucket=self.bucket, Key=dest,
                                    CopySource={"Bucket": self.bucket, "Key": key})
        except Exception as exc:
            raise self._error(exc, key, "copy", read=True) from exc
        self.delete(key)

    def list(self, prefix: str = "", limit: int | None = None) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix,
            PaginationConfig={"PageSize": self.page_size, "MaxItems": limit},
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"], item["Size"], item["LastModified"],
                                     item["ETag"].strip('"'))
        except Exception as exc:
            raise self._error(exc, None, f"list {prefix!r}") from exc

    def preview_url(self, key: str, expires_in: int = 3600) -> str:
        return cast(str, self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": validate_key(key)},
            ExpiresIn=expires_in,
        ))


class LocalObjectStore(ObjectStore):
    """Objects as files under `<root>/<bucket>/<key>`, written atomically."""

    def __init__(self, root: str | os.PathLike[str], bucket: str) -> None:
        if not bucket or "/" in bucket or bucket in (".", ".."):
            raise ValueError(f"invalid bucket name {bucket!r}")
        self.root = Path(root).resolve()
        self.bucket = bucket
        self.base = self.root / bucket

    def __repr__(self) -> str:
        return f"LocalObjectStore(root={str(self.root)!r}, bucket={self.bucket!r})"

    def path(self, key: str) -> Path:
        """Filesystem path of `key`."""
        return self.base / validate_key(key)

    def _listed_path(self, key: str) -> Path:
        """Path of a key `list` returned: a file name that is not valid UTF-8 comes back with
        surrogate escapes, which no valid key has, yet it must stay movable and deletable."""
        try:
            return self.path(key)
        except ValueError:
            if not isinstance(key, str):
                raise
            # Every other rule still holds: check the name with its undecodable bytes replaced.
            validate_key(key.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
            return self.base / key

    def uri(self, key: str) -> str:
        # Not percent-encoded, like s3:// URIs: the contract is `file://<absolute path>`.
        return f"file://{self.path(key)}"

    def _write_atomic(self, key: str, fill: Any) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        except OSError as exc:
            raise ObjectStoreError(f"write failed: {exc}", bucket=self.bucket, key=key,
                                   code=type(exc).__name__) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise ObjectStoreError(f"write failed: {exc}", bucket=self.bucket, key=key,
                                       code=type(exc).__name__) from exc
            raise

    def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str | None = None
    ) -> None:
        with open(path, "rb") as src:
            self._write_atomic(key, lambda out: shutil.copyfileobj(src, out, _MB))

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write_atomic(key, lambda out: out.write(data))

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError("get: no such key", bucket=self.bucket, key=key,
                                      code="NoSuchKey") from exc

    def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        dest = Path(path)
        with self.open_read(key) as src:
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=dest.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(src, out, _MB)
                os.replace(tmp, dest)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = os.stat(self.path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return self._info(key, st) if S_ISREG(st.st_mode) else None

    @staticmethod
    def _info(key: str, st: os.stat_result) -> ObjectInfo:
        # A cheap change detector, not a content hash: hashing would read every byte.
        etag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
        modified = datetime.fromtimestamp(st.st_mtime, tz=UTC)
        return ObjectInfo(key, st.st_size, modified, etag)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self._listed_path(key).unlink()

    def move(self, key: str, dest: str) -> None:
        source, target = self._listed_path(key), self.path(dest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFoundError("move: no such key", bucket=self.bucket, key=key,
                                      code="NoSuchKey") from exc
        except OSError as exc:
            raise ObjectStoreError(f"move failed: {exc}", bucket=self.bucket, key=key,
                                   code=type(exc).__name__) from exc

    def list(self, prefix: str = "", limit: int | None = None) -> Iterator[ObjectInfo]:
        if "\x00" in prefix or prefix.startswith("/") or ".." in prefix.split("/"):
            raise ValueError(f"invalid list prefix {prefix!r}")
        start = prefix.rpartition("/")[0]
        count = 0
        for key, st in self._walk(self.base / start if start else self.base,
                                  f"{start}/" if start else "", prefix):
            if limit is not None and count >= limit:
                return
            count += 1
            yield self._info(key, st)

    def _walk(self, folder: Path, key_prefix: str, prefix: str) -> Iterator[Any]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        # S3 orders by full key; "a/" sorts where the folder's keys do ("a-b" < "a/c" < "a0").
        named = [(e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e) for e in entries]
        for name, entry in sorted(named, key=lambda pair: pair[0]):
            key = key_prefix + name
            if entry.name.startswith(_TMP_PREFIX):
                continue
            if name.endswith("/"):
                if key.startswith(prefix) or prefix.startswith(key):
                    yield from self._walk(Path(entry.path), key, prefix)
            elif key.startswith(prefix) and entry.is_file(follow_symlinks=False):
                yield key, entry.stat(follow_symlinks=False)

    def preview_url(self, key: str, expires_in: int = 3600) -> str:
        return self.uri(key)


def _default_home() -> Path:
    from video_dagster.settings import home_dir

    return home_dir()


class ObjectStoreResource(ConfigurableResource):  # type: ignore[type-arg]
    """Chooses and configures the object store backend."""

    backend: Literal["local", "s3"] = Field(
        default="local", description="`local` (a folder, no credentials) or `s3`."
    )
    bucket: str = Field(default="video-dagster", description="Bucket holding all objects.")
    local_root: str | None = Field(
        default=None,
        description="Local backend folder; default `<home folder>/objects` (settings.home_dir).",
    )
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (moto, MinIO, LocalStack); None = AWS."
    )
    region_name: str | None = Field(default=None, description="AWS region of the bucket.")
    profile_name: str | None = Field(
        default=None, description="AWS profile; credentials otherwise come from the environment."
    )
    connect_timeout: float = Field(default=10.0, description="S3 connect timeout, seconds.")
    read_timeout: float = Field(default=60.0, description="S3 read timeout, seconds.")
    max_attempts: int = Field(default=5, description="S3 attempts per call, first included.")

    def get_store(self) -> ObjectStore:
        """Build the configured store."""
        if self.backend == "local":
            root = Path(self.local_root) if self.local_root else _default_home() / "objects"
            return LocalObjectStore(root, self.bucket)
        return S3ObjectStore(
            self.bucket, region_name=self.region_name, endpoint_url=self.endpoint_url,
            profile_name=self.profile_name, connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout, max_attempts=self.max_attempts,
        )
