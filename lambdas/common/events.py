"""The fields every Lambda event carries and the two callback body shapes (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.common.errors import InvalidInput
from lambdas.common.uris import ObjectUri, parse_uri

IDENTITY_FIELDS = ("node_uuid", "executor_type", "process_uuid")
MAX_ERROR_CHARS = 2000  # the orchestrator keeps no more of a callback's error
# The project's key layout under a file:// store root: <root>/<bucket>/pipelines/<p>/nodes/<n>/<f>
_FILE_LAYOUT = re.compile(r"/([^/]+)/(pipelines/[^/]+/nodes/[^/]+/[^/]+)$")


@dataclass(frozen=True)
class BaseEvent:
    """Validated common fields of a Lambda event (docs/CONTRACTS.md)."""

    node_uuid: str
    executor_type: str
    process_uuid: str
    output: ObjectUri
    output_bucket: str | None
    """Bucket reported in the result; None for a file:// output outside the key layout."""
    output_key: str
    callback_uri: str
    s3_endpoint_url: str | None


def identity(event: Mapping[str, Any]) -> dict[str, Any]:
    """The echo fields of a callback, taken leniently so even a broken event can be answered."""
    return {name: _str_or_none(event.get(name)) for name in IDENTITY_FIELDS}


def callback_target(event: Mapping[str, Any]) -> str | None:
    """`callback_uri` when it is a URI we can write to, else None."""
    value = event.get("callback_uri")
    try:
        parse_uri(value)
    except ValueError:
        return None
    return str(value)


def endpoint_url(event: Mapping[str, Any]) -> str | None:
    """The optional S3 endpoint override (moto/MinIO), ignored unless it looks like a URL."""
    value = event.get("s3_endpoint_url")
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    return None


def parse_base_event(event: Mapping[str, Any]) -> BaseEvent:
    """Validate the common fields; raise InvalidInput naming the first problem."""
    for name in IDENTITY_FIELDS:
        if not isinstance(event.get(name), str) or not event[name]:
            raise InvalidInput(f"'{name}' is required and must be a non-empty string")
    callback = callback_target(event)
    if callback is None:
        raise InvalidInput(f"'callback_uri' is missing or invalid: {event.get('callback_uri')!r}")
    raw_endpoint = event.get("s3_endpoint_url")
    if raw_endpoint is not None and endpoint_url(event) is None:
        raise InvalidInput(f"'s3_endpoint_url' must be an http(s) URL or null: {raw_endpoint!r}")
    output, bucket, key = _parse_output(event)
    return BaseEvent(
        node_uuid=event["node_uuid"],
        executor_type=event["executor_type"],
        process_uuid=event["process_uuid"],
        output=output,
        output_bucket=bucket,
        output_key=key,
        callback_uri=callback,
        s3_endpoint_url=endpoint_url(event),
    )


def _parse_output(event: Mapping[str, Any]) -> tuple[ObjectUri, str | None, str]:
    given_bucket, given_key = event.get("output_bucket"), event.get("output_key")
    has_pair = isinstance(given_bucket, str) and isinstance(given_key, str)
    has_pair = has_pair and bool(given_bucket) and bool(given_key)
    raw_uri = event.get("output_uri")
    if raw_uri is None:
        if not has_pair:
            raise InvalidInput("'output_uri' (or 'output_bucket' and 'output_key') is required")
        raw_uri = f"s3://{given_bucket}/{given_key}"
    try:
        output = parse_uri(raw_uri)
    except ValueError as exc:
        raise InvalidInput(f"'output_uri' is invalid: {exc}") from None
    if output.scheme == "s3":
        if has_pair and (given_bucket, given_key) != (output.bucket, output.key):
            raise InvalidInput("'output_bucket'/'output_key' disagree with 'output_uri'")
        return output, output.bucket, output.key
    if has_pair:
        return output, str(given_bucket), str(given_key)
    match = _FILE_LAYOUT.search(output.key)
    if match:
        return output, match.group(1), match.group(2)
    return output, None, output.key


def success_body(ident: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """`{node_uuid, executor_type, process_uuid, result}`."""
    return {**{name: ident.get(name) for name in IDENTITY_FIELDS}, "result": dict(result)}


def error_body(ident: Mapping[str, Any], error: str, error_type: str) -> dict[str, Any]:
    """`{node_uuid, executor_type, process_uuid, error, error_type}`; the error is capped."""
    body = {name: ident.get(name) for name in IDENTITY_FIELDS}
    if len(error) > MAX_ERROR_CHARS:
        # A message quoting a 300 KB config value would make the whole callback too big to be
        # accepted (256 KB), and the user would see that instead of the reason.
        error = error[:MAX_ERROR_CHARS - 1] + "…"
    return {**body, "error": error, "error_type": error_type}


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
