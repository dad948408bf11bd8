"""Parse the two object URI schemes of docs/CONTRACTS.md (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

S3_PREFIX = "s3://"
FILE_PREFIX = "file://"


@dataclass(frozen=True)
class ObjectUri:
    """`s3://bucket/key` (scheme "s3") or `file:///abs/path` (scheme "file", bucket empty)."""

    scheme: str
    bucket: str
    key: str
    """The S3 key, or the absolute local path for `file://`."""

    @property
    def suffix(self) -> str:
        """The lower-cased file extension of the key (".mp4"), or ""."""
        return PurePosixPath(self.key).suffix.lower()

    def __str__(self) -> str:
        if self.scheme == "s3":
            return f"{S3_PREFIX}{self.bucket}/{self.key}"
        return f"{FILE_PREFIX}{self.key}"


def parse_uri(uri: object) -> ObjectUri:
    """Parse a URI; raise ValueError with a readable reason when it is not one we accept.

    Keys and paths are taken verbatim (no percent-decoding): the orchestrator builds them by
    concatenation, so a `%`, quote or newline in a key is part of the key.
    """
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"not a URI: {uri!r}")
    if uri.startswith(S3_PREFIX):
        bucket, sep, key = uri[len(S3_PREFIX) :].partition("/")
        if not bucket or not sep or not key:
            raise ValueError(f"S3 URI needs a bucket and a key: {uri!r}")
        return ObjectUri("s3", bucket, key)
    if uri.startswith(FILE_PREFIX):
        path = uri[len(FILE_PREFIX) :]
        if not path.startswith("/") or path.endswith("/") or "\x00" in path:
            raise ValueError(f"file URI needs an absolute file path: {uri!r}")
        return ObjectUri("file", "", path)
    raise ValueError(f"unsupported URI scheme (expected s3:// or file://): {uri!r}")
