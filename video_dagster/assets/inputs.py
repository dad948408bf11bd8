"""What an executor reads from its input nodes: only objects of our store, never a stray path.

An input node's output is a row we wrote, but it is still not trusted to name a file: only its
`s3Key` (or a URI of this very store) counts, the key must be valid, belong to that node (asset
nodes may name any object of the store outside our internal prefixes) and exist. Nothing else on
the machine ever reaches FFmpeg or a provider (DESIGN §7).
"""

from __future__ import annotations

from typing import Any

from video_dagster.assets.executors.base import ExecutionContext, ExecutionFailed, InputNode
from video_dagster.domain.keys import CALLBACK_PREFIX, node_output_key
from video_dagster.resources.object_store import ObjectStoreError, validate_key

# Keys of the store that are ours, not media: never an input, whoever names them.
# `aws/lambda/async/`: AWS on-failure records (assets/lambda_failures.py), another node's event.
INTERNAL_PREFIXES = (CALLBACK_PREFIX, "quarantine/", "aws/lambda/async/")
# A script or code asset is text for a provider request, not a document: keep it small.
MAX_TEXT_BYTES = 1024 * 1024


def slot_refs(ctx: ExecutionContext, slot: str) -> list[str]:
    """The node ids a slot references, in order (both single-slot shapes)."""
    value = ctx.node.inputs.get(slot) if isinstance(ctx.node.inputs, dict) else None
    refs = value if isinstance(value, list) else [value] if value is not None else []
    return [r for r in refs if isinstance(r, str)]


def _input(ctx: ExecutionContext, node_id: str, kinds: tuple[str, ...]) -> tuple[InputNode, Any]:
    found: InputNode | None = next(
        (n for nodes in ctx.slots.values() for n in nodes if n.id == node_id), None
    )
    output = found.output if found else None
    if found is None or not isinstance(output, dict) or not output:
        raise ExecutionFailed(f"Input node {node_id} has no output", "InputNotFound")
    kind = output.get("type")
    if kinds and kind not in kinds:
        produced = kind if isinstance(kind, str) else "an untyped output"
        raise ExecutionFailed(
            f"Input node {node_id} produced {produced}, expected {' or '.join(kinds)}",
            "InvalidInput",
        )
    return found, output


def input_key(ctx: ExecutionContext, node_id: str, kinds: tuple[str, ...]) -> str:
    """The key of the stored object an input node produced, checked (see the module doc)."""
    found, output = _input(ctx, node_id, kinds)
    key = output.get("s3Key")
    if key is None or key == "":
        uri = output.get("uri")
        if not isinstance(uri, str) or not uri:
            raise ExecutionFailed(f"Input node {node_id} has no stored output", "InputNotFound")
        try:
            key = ctx.store.key_from_uri(uri)
        except ValueError:
            raise ExecutionFailed(f"Input node {node_id} output {uri[:200]!r} is not an object "
                                  "of this store", "InvalidInput") from None
    if not isinstance(key, str):
        raise ExecutionFailed(f"Input node {node_id} output s3Key is not a string", "InvalidInput")
    try:
        validate_key(key)
    except ValueError as exc:
        raise ExecutionFailed(f"Input node {node_id} output is not a valid object key: {exc}",
                              "InvalidInput") from None
    own = node_output_key(ctx.node.pipeline_id, node_id, "")
    if key.startswith(INTERNAL_PREFIXES) or (found.type != "asset" and not key.startswith(own)):
        raise ExecutionFailed(f"Input node {node_id} output {key[:200]!r} is not an object that "
                              "node may read from", "InvalidInput")
    try:
        exists = ctx.store.stat(key) is not None
    except (ObjectStoreError, ValueError) as exc:
        raise ExecutionFailed(f"cannot read input {key[:200]!r}: {exc}", "InputNotFound") from None
    if not exists:
        raise ExecutionFailed(f"Input node {node_id} output {ctx.store.uri(key)} does not exist",
                              "InputNotFound")
    return key


def input_uri(ctx: ExecutionContext, node_id: str, kinds: tuple[str, ...]) -> str:
    """The URI of the stored object an input node produced; a clear failure when there is none."""
    return ctx.store.uri(input_key(ctx, node_id, kinds))


def input_text(ctx: ExecutionContext, node_id: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of a text/script input: its inline `content`, else its stored object (capped)."""
    _, output = _input(ctx, node_id, ("text",))
    inline = output.get("content")
    if isinstance(inline, str):
        data = inline.encode("utf-8", "surrogatepass")
    else:
        key = input_key(ctx, node_id, ("text",))
        try:
            with ctx.store.open_read(key) as stream:
                data = stream.read(max_bytes + 1)
        except (ObjectStoreError, ValueError) as exc:
            raise ExecutionFailed(f"cannot read input {key[:200]!r}: {exc}",
                                  "InputNotFound") from None
    if len(data) > max_bytes:
        raise ExecutionFailed(f"Input node {node_id} text is larger than {max_bytes} bytes",
                              "InvalidInput")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExecutionFailed(f"Input node {node_id} text is not valid UTF-8 ({exc.reason} at "
                              f"byte {exc.start})", "InvalidInput") from None
